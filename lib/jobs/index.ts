export { handOn, type TimeBudget, startBudget } from "./budget.js";
export {
  CHUNK_DELIVERY_RETRIES,
  type ChunkDeliveryResult,
  type ChunkTaskPayload,
  type Delivery,
  type EngineDeps,
  type EngineFaults,
  JobEngine,
  type JobRetried,
  JobRetriedSchema,
  type JobView,
  JobViewSchema,
  MAX_CHUNK_PUBLICATIONS,
  type PlanTaskPayload,
  TASK_TYPES,
  WorkerCrash,
} from "./engine.js";
export { JobIdParams, uuidv7 } from "./ids.js";
export { type ChunkReport, chunkCounterSums, chunkOutcomes, sumCountsByKey } from "./outcomes.js";
export { computeProgress, type Progress, ProgressSchema } from "./progress.js";
export { JobListByKindQuery, type JobList, JobListQuery, JobListSchema, listJobPage, NextCursor } from "./list-cursor.js";
export { CreateJobRequest, defineJobKind, JobCatalogue, type JobKind } from "./kind.js";
export { activeJobs, findJob, findJobByParam, type JobRow, type ListedJob, listJobs } from "./repository.js";
export * from "./types.js";
export { recoverActiveJobs, type RecoveryReport, runWatchdog, type WatchdogReport, WatchdogReportSchema } from "./watchdog.js";
