export { handOn, type TimeBudget, startBudget } from "./budget.js";
export {
  CHUNK_DELIVERY_RETRIES,
  type ChunkDeliveryResult,
  type ChunkTaskPayload,
  type Delivery,
  type EngineDeps,
  type EngineFaults,
  JobEngine,
  type JobView,
  MAX_CHUNK_PUBLICATIONS,
  type PlanTaskPayload,
  TASK_TYPES,
  WorkerCrash,
} from "./engine.js";
export { uuidv7 } from "./ids.js";
export { type ChunkReport, chunkCounterSums, chunkOutcomes, sumCountsByKey } from "./outcomes.js";
export { computeProgress, type Progress } from "./progress.js";
export { JobListQuery, listJobPage } from "./list-cursor.js";
export { defineJobKind, JobCatalogue, type JobKind } from "./kind.js";
export { activeJobs, findJob, findJobByParam, type JobRow, type ListedJob, listJobs } from "./repository.js";
export * from "./types.js";
export { recoverActiveJobs, type RecoveryReport, runWatchdog, type WatchdogReport } from "./watchdog.js";
