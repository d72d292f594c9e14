/**
 * Stuck-work recovery (docs/job-engine.md, "The watchdog"), run by a cron (and by the dev server on a
 * timer). For every active job it:
 *  - rebuilds the Redis state from `job_chunks` when it is missing or behind
 *    (a crash between a chunk's commit and its Redis completion);
 *  - re-publishes, as a new message, each pending chunk that holds no live lease
 *    and was last published longer ago than the stall threshold, if it was claimed
 *    before (its worker died) or the whole job has had no heartbeat for that long
 *    (its message was lost, the dev server restarted); a slow chunk that still
 *    heartbeats keeps its lease and is left alone, and a chunk waiting its turn in
 *    the queue while the job progresses is not duplicated;
 *  - fails a chunk after MAX_CHUNK_PUBLICATIONS publications, with the reason;
 *  - re-publishes a plan that stalled, and fails the job when it keeps stalling;
 *  - finalises a job whose chunks are all complete in Postgres.
 * So no job stays `running` forever.
 */
import { z } from "zod";
import type { MetricsStore } from "../kv/metrics-store.js";
import { recordMetrics } from "../metrics/record.js";
import type { JobsConfig } from "../config.js";
import type { Database } from "../db/client.js";
import type { JobStateStore } from "../kv/job-state.js";
import { logger, runWithContext } from "../log/index.js";
import { type JobEngine, MAX_CHUNK_PUBLICATIONS } from "./engine.js";
import { activeJobs, bumpPlanPublications, chunkTotals, type JobRow, jobSnapshot, listChunks } from "./repository.js";

/** Plan publications before a job that never finishes planning fails. */
export const MAX_PLAN_PUBLICATIONS = 3;
const JOBS_PER_RUN = 200;

const count = z.number().int();

/** What one watchdog pass did (GET /api/cron/watchdog). */
export const WatchdogReportSchema = z.object({
  jobs_checked: count,
  states_restored: count,
  chunks_republished: count,
  chunks_failed: count,
  plans_republished: count,
  jobs_failed: count,
  jobs_finalised: count,
  steps_published: count,
});
export type WatchdogReport = z.infer<typeof WatchdogReportSchema>;

const log = logger("watchdog");

export async function runWatchdog(
  deps: { db: Database; store: JobStateStore; engine: JobEngine; config: JobsConfig; metrics?: MetricsStore },
  nowMs: number = Date.now(),
): Promise<WatchdogReport> {
  const report: WatchdogReport = {
    jobs_checked: 0,
    states_restored: 0,
    chunks_republished: 0,
    chunks_failed: 0,
    plans_republished: 0,
    jobs_failed: 0,
    jobs_finalised: 0,
    steps_published: 0,
  };
  const timer = log.start("runWatchdog");
  for (const job of await activeJobs(deps.db, JOBS_PER_RUN)) {
    report.jobs_checked += 1;
    try {
      await inJobContext(job, () =>
        job.status === "running" ? checkRunningJob(deps, job, nowMs, report) : checkPlanningJob(deps, job, nowMs, report),
      );
    } catch (error) {
      // One broken job must not stop the recovery of the others.
      log.error("could not check job", { job_id: job.id, err: error });
    }
  }
  const actions = Object.entries(report).filter(([key, value]) => key !== "jobs_checked" && value > 0);
  if (deps.metrics) recordMetrics(deps.metrics, actions.map(([action, value]) => ({ metric: "watchdog", labels: { action }, value })));
  const acted = actions.length > 0;
  if (acted) timer.finish("watchdog acted", { ...report });
  else log.debug("watchdog found nothing to do", { jobs_checked: report.jobs_checked });
  return report;
}

export interface RecoveryReport {
  jobs_recovered: number;
  plans_republished: number;
  chunks_republished: number;
  jobs_finalised: number;
}

/**
 * At the start of a process whose queue and job state lived in its own memory (the
 * embedded mode of `npm run dev` and the demo): whatever was queued or leased died
 * with the previous process, so every active job is recovered at once instead of
 * after the watchdog's stall window. Each running job's state is rebuilt from
 * `job_chunks` and every pending chunk re-published (a new deduplication generation);
 * a job still planning gets its plan again; a job whose chunks all settled is
 * finalised. Only for a process that owns the queue alone: elsewhere a pending chunk
 * may be in another worker's hands, and the watchdog's rules apply.
 */
export async function recoverActiveJobs(deps: {
  db: Database;
  store: JobStateStore;
  engine: JobEngine;
}): Promise<RecoveryReport> {
  const report: RecoveryReport = { jobs_recovered: 0, plans_republished: 0, chunks_republished: 0, jobs_finalised: 0 };
  for (const job of await activeJobs(deps.db, Number.MAX_SAFE_INTEGER)) {
    try {
      await inJobContext(job, () => recoverJob(deps, job, report));
      report.jobs_recovered += 1;
    } catch (error) {
      // One broken job must not stop the recovery of the others; the watchdog tries again later.
      log.error("could not recover job at start", { job_id: job.id, err: error });
    }
  }
  if (report.jobs_recovered > 0) log.warn("recovered the jobs a previous process left active", { event: "jobs_recovered", ...report });
  return report;
}

/**
 * What the watchdog or recovery does to a job it logs, and the engine logs (a chunk
 * re-published, the job finalised), under the job's own correlation id: following an
 * import's id shows its whole life, even where the watchdog finished it.
 */
function inJobContext<T>(job: JobRow, work: () => Promise<T>): Promise<T> {
  return runWithContext({ correlationId: job.correlationId ?? job.id }, work);
}

async function recoverJob(deps: { db: Database; store: JobStateStore; engine: JobEngine }, job: JobRow, report: RecoveryReport): Promise<void> {
  if (job.status !== "running") {
    const published = Number((job.totals as { plan_publications?: number }).plan_publications ?? 1);
    await bumpPlanPublications(deps.db, job.id, published + 1);
    await deps.engine.publishPlan(job, published + 1);
    report.plans_republished += 1;
  } else {
    await deps.store.restoreJob(job.id, await jobSnapshot(deps.db, job));
    const pending = (await listChunks(deps.db, job.id, "pending")).map((chunk) => chunk.chunk);
    if (pending.length === 0) {
      if ((await deps.engine.chunksSettled(job.id)) === "finalised") report.jobs_finalised += 1;
    } else {
      report.chunks_republished += await deps.engine.publishChunks(job, pending);
    }
  }
}

async function checkPlanningJob(
  deps: { db: Database; engine: JobEngine; config: JobsConfig },
  job: JobRow,
  nowMs: number,
  report: WatchdogReport,
): Promise<void> {
  const last = (job.heartbeatAt ?? job.createdAt).getTime();
  if (nowMs - last < deps.config.stallMs) return;
  const published = Number((job.totals as { plan_publications?: number }).plan_publications ?? 1);
  if (published >= MAX_PLAN_PUBLICATIONS) {
    if (await deps.engine.failJob(job.id, `planning did not finish after ${published} attempts`)) {
      report.jobs_failed += 1;
      log.warn("job failed: planning stalled", { event: "job_failed", job_id: job.id });
    }
    return;
  }
  await bumpPlanPublications(deps.db, job.id, published + 1);
  await deps.engine.publishPlan(job, published + 1);
  report.plans_republished += 1;
  log.warn("re-published a stalled plan", { event: "plan_republished", job_id: job.id });
}

async function checkRunningJob(
  deps: { db: Database; store: JobStateStore; engine: JobEngine; config: JobsConfig },
  job: JobRow,
  nowMs: number,
  report: WatchdogReport,
): Promise<void> {
  const chunks = await listChunks(deps.db, job.id);
  const settled = chunks.filter((chunk) => chunk.status !== "pending").length;
  const state = await deps.store.getJobState(job.id);
  const settledInRedis = state ? (state.counters.chunks_done ?? 0) + (state.counters.chunks_failed ?? 0) : -1;
  if (!state) {
    await deps.store.restoreJob(job.id, await jobSnapshot(deps.db, job));
    report.states_restored += 1;
    log.warn("rebuilt job state from job_chunks", { event: "state_restored", job_id: job.id, settled, settledInRedis });
  } else if (settledInRedis < settled) {
    // Behind, not lost: complete what committed, so each chunk's metrics count once.
    await deps.engine.catchUpCommitted(job, chunks);
    report.states_restored += 1;
    log.warn("caught the job state up with job_chunks", { event: "state_restored", job_id: job.id, settled, settledInRedis });
  }

  const pending = chunks.filter((chunk) => chunk.status === "pending");
  // A chunk never claimed may just be waiting its turn in the queue (flow control):
  // only when the whole job has made no progress for the stall threshold is its
  // message presumed lost. A chunk that was claimed and has no live lease lost its worker.
  const jobStalled = nowMs - (job.heartbeatAt ?? job.createdAt).getTime() >= deps.config.stallMs;
  if (pending.length === 0) {
    // A job-wide step already queued is given the stall window before it is queued again.
    const stepQueued = (job.totals.step_publications ?? 0) > 0 && !job.totals.step_done;
    if (stepQueued && !jobStalled) return;
    const outcome = await deps.engine.chunksSettled(job.id);
    if (outcome === "finalised") report.jobs_finalised += 1;
    if (outcome === "step_published") report.steps_published += 1;
    return;
  }

  const live = new Set((await deps.store.getLeases(job.id)).map((lease) => lease.chunk));
  const stalled = pending.filter(
    (chunk) =>
      !live.has(chunk.chunk) &&
      (chunk.publishedAt === null || nowMs - chunk.publishedAt.getTime() >= deps.config.stallMs) &&
      (chunk.attempts > 0 || jobStalled),
  );
  const exhausted = stalled.filter((chunk) => chunk.publications >= MAX_CHUNK_PUBLICATIONS);
  for (const chunk of exhausted) {
    const reason = `no worker completed it after ${chunk.publications} publications and ${chunk.attempts} deliveries`;
    if (await deps.engine.failChunk(job.id, chunk.chunk, reason)) report.chunks_failed += 1;
  }
  const republish = stalled.filter((chunk) => chunk.publications < MAX_CHUNK_PUBLICATIONS).map((chunk) => chunk.chunk);
  if (republish.length > 0) {
    report.chunks_republished += await deps.engine.publishChunks(job, republish);
    log.warn("re-published stalled chunks", { event: "chunks_republished", job_id: job.id, chunks: republish.length });
  }
  if (exhausted.length > 0 && (await chunkTotals(deps.db, job.id)).pending === 0) {
    if ((await deps.engine.chunksSettled(job.id)) === "finalised") report.jobs_finalised += 1;
  }
}
