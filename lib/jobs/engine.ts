/**
 * The chunked job engine (docs/job-engine.md). A job is planned into chunks (Postgres
 * `job_chunks`), each chunk is one queue message, and a worker:
 *   claims the chunk's lease (Redis) -> skips it if done -> does its work and writes
 *   its outcome in one Postgres transaction -> completes it in Redis (one atomic
 *   step that counts it once) -> the worker that completes the last chunk finalises.
 * Every step tolerates duplicate, concurrent, late and lost deliveries; the
 * watchdog (watchdog.ts) repairs what a crash leaves behind.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { JobsConfig } from "../config.js";
import type { Database } from "../db/client.js";
import { JOB_STATUSES, type JobStatus } from "../db/schema.js";
import { AppError } from "../errors.js";
import type { ChunkTally, JobStateStore } from "../kv/job-state.js";
import { type Logger, logger } from "../log/index.js";
import type { PublishOptions, TaskMessage, TaskQueue } from "../queue/types.js";
import { startBudget, type TimeBudget } from "./budget.js";
import { ChunkSlots } from "./slots.js";
import { uuidv7 } from "./ids.js";
import { computeProgress, ProgressSchema } from "./progress.js";
import { DEFAULT_DELIVERY_RETRIES, type JobCatalogue, type JobKind } from "./kind.js";
import {
  ACTIVE_STATUSES,
  ChunkAlreadyCommitted,
  type ChunkRow,
  type ChunkTotals,
  type CommittedChunk,
  cancelPendingChunks,
  chunkTotals,
  commitChunk,
  failChunk,
  findChunk,
  findJob,
  finishJob,
  insertJob,
  type JobRow,
  jobSnapshot,
  lastActivityMs,
  lockJob,
  type MarkedChunk,
  markFirstPublications,
  markPublished,
  markStepDone,
  markStepPublished,
  markThrottled,
  recordAttempt,
  reopenFailedChunks,
  savePlan,
  startPlanning,
  TERMINAL_STATUSES,
  touchJob,
} from "./repository.js";
import { ChunkThrottled, PermanentChunkError, type SettledJob, type StepResult } from "./types.js";
import type { MetricsStore } from "../kv/metrics-store.js";
import { chunkMetrics, jobEndMetrics } from "../metrics/jobs.js";
import { recordMetrics } from "../metrics/record.js";

/** Queue-side delivery attempts of one publication of a plan task (after the first). */
export const CHUNK_DELIVERY_RETRIES = DEFAULT_DELIVERY_RETRIES;
/** Publications of one chunk (the first plus watchdog re-publishes) before it fails. */
export const MAX_CHUNK_PUBLICATIONS = 5;

/** The engine's task types (each its own route, /api/tasks/<type>). */
export const TASK_TYPES = { plan: "plan", chunk: "chunk", step: "step" } as const;

export interface ChunkTaskPayload {
  job_id: string;
  chunk: number;
}
export interface PlanTaskPayload {
  job_id: string;
}
export interface StepTaskPayload {
  job_id: string;
}

export interface Delivery {
  messageId: string | null;
  retried: number;
}

/**
 * Thrown by a fault hook to make the worker behave as if it died on the spot: its
 * lease is not released and Redis never hears of its commit. (Out of process, the
 * knob DROPFLOW_FAULT_CRASH_AFTER_COMMIT exits the process instead.)
 */
export class WorkerCrash extends Error {
  constructor(message = "simulated worker crash") {
    super(message);
    this.name = "WorkerCrash";
  }
}

/** Test and benchmark knobs: simulate a worker dying at the worst moment. */
export interface EngineFaults {
  /** Called after a chunk's transaction committed and before Redis hears of it. */
  afterCommit?(jobId: string, chunk: number, kind: string): void | Promise<void>;
}

export interface EngineDeps {
  db: Database;
  /** The job kinds this engine runs. */
  kinds: JobCatalogue;
  store: JobStateStore;
  queue: TaskQueue;
  config: JobsConfig;
  faults?: EngineFaults;
  /** Where a job's end is counted (chunk metrics go through the job state store, atomically). */
  metrics?: MetricsStore;
}

export type ChunkDeliveryResult =
  | "completed"
  | "failed"
  | "already_done"
  | "recovered"
  | "leased"
  | "cancelled"
  | "throttled"
  | "job_finished"
  | "unknown_job";

const log = logger("jobs");

/** What GET /api/jobs/:id shows of a job: its durable status and its live progress. */
export const JobViewSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    status: z.enum(JOB_STATUSES),
    params: z.unknown().describe("What the job was created with; each kind has its own."),
    counters: z.record(z.string(), z.number()).describe("The kind's counters; a finished job's are final."),
    last_error: z.string().nullable(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    heartbeat_at: z.string().nullable(),
    progress: ProgressSchema,
  })
  .meta({ id: "JobView" });
export type JobView = z.infer<typeof JobViewSchema>;

/** POST /api/jobs/:id/retry: how many chunks run again, and the job as it is now. */
export const JobRetriedSchema = z.object({ retried_chunks: z.number().int(), job: JobViewSchema });
export type JobRetried = z.infer<typeof JobRetriedSchema>;

export class JobEngine {
  private readonly slots: ChunkSlots;

  constructor(private readonly deps: EngineDeps) {
    this.slots = new ChunkSlots(deps.config.chunkConcurrency);
  }

  private get db() {
    return this.deps.db;
  }
  private get store() {
    return this.deps.store;
  }

  /** Creates a job and hands its planning to the queue. */
  async createJob(
    kind: string,
    params: unknown,
    correlationId: string,
    options: { id?: string; onCreated?: (db: Database, job: JobRow) => Promise<void> } = {},
  ): Promise<JobRow> {
    const checked = this.deps.kinds.require(kind).checkParams(params);
    // The job and what the caller records with it (e.g. its files) exist before the plan can run.
    const job = await this.db.transaction(async (tx) => {
      const row = await insertJob(tx as unknown as Database, { id: options.id ?? uuidv7(), kind, params: checked, correlationId });
      await options.onCreated?.(tx as unknown as Database, row);
      return row;
    });
    log.info("job created", { event: "job_created", job_id: job.id, kind });
    await this.publishPlan(job, 1);
    return job;
  }

  async publishPlan(job: JobRow, generation: number): Promise<void> {
    await this.deps.queue.publish(this.task(job, TASK_TYPES.plan, { job_id: job.id } satisfies PlanTaskPayload), {
      deduplicationId: `plan:${job.id}:${generation}`,
      retries: CHUNK_DELIVERY_RETRIES,
      failureCallback: true,
    });
  }

  /** The plan task: cut the job into chunks, record them, publish them. */
  async handlePlan(jobId: string): Promise<"planned" | "republished" | "skipped"> {
    const job = await findJob(this.db, jobId);
    if (!job) return "skipped";
    if (job.status === "running") {
      // A retry of a plan task whose publishing failed half-way: publish what never went out.
      await this.publishMarked(job, await markFirstPublications(this.db, job.id));
      return "republished";
    }
    if (!(await startPlanning(this.db, jobId))) return "skipped";
    const kind = this.kindOf(job);
    const timer = log.start("planChunks", { job_id: jobId, kind: job.kind });
    const budget = startBudget({ maxDurationMs: this.deps.config.maxDurationMs, marginMs: this.deps.config.deadlineMarginMs });
    let chunks: Awaited<ReturnType<JobKind["plan"]>>;
    try {
      chunks = await kind.plan({ job, db: this.db, log: log.child({ operation: "planChunks" }), signal: budget.signal });
    } catch (error) {
      timer.finishWithError(error);
      if (error instanceof PermanentChunkError) {
        await this.failJob(jobId, error.message);
        return "skipped";
      }
      throw error;
    } finally {
      budget.dispose();
    }
    const saved = await savePlan(this.db, jobId, chunks);
    const current = saved ? job : await findJob(this.db, jobId);
    if (!current || (!saved && current.status !== "running")) return "skipped";
    const rowTotal = chunks.reduce((sum, chunk) => sum + chunk.rows, 0);
    await this.store.initJob(jobId, { chunkTotal: chunks.length, rowTotal, startedAtMs: Date.now() });
    timer.finish("planned chunks", { event: "job_planned", chunks: chunks.length, rows: rowTotal });
    if (chunks.length === 0) {
      await this.chunksSettled(jobId);
      return "planned";
    }
    await this.publishMarked(job, await markFirstPublications(this.db, jobId));
    return "planned";
  }

  /** Publishes these chunks as new messages (a new deduplication generation each time). */
  async publishChunks(job: JobRow, chunks: number[]): Promise<number> {
    return this.publishMarked(job, await markPublished(this.db, job.id, chunks));
  }

  /** Publishes chunks already marked, each under its publication's deduplication generation. */
  private async publishMarked(job: JobRow, marked: MarkedChunk[], delaySeconds = 0): Promise<number> {
    if (marked.length === 0) return 0;
    const kind = this.kindOf(job);
    await this.deps.queue.publishMany(
      marked.map((one) => ({
        task: this.task(job, TASK_TYPES.chunk, { job_id: job.id, chunk: one.chunk } satisfies ChunkTaskPayload),
        options: this.chunkPublishOptions(job, kind, one, delaySeconds),
      })),
    );
    return marked.length;
  }

  /**
   * The kind's delivery policy for one chunk. The deduplication id names the
   * publication and the throttled attempts, so a re-publish or a delayed retry is a
   * new message while a duplicate of either is dropped.
   */
  private chunkPublishOptions(job: JobRow, kind: JobKind, marked: MarkedChunk, delaySeconds: number): PublishOptions {
    const delivery = kind.deliveryOf(job, marked.payload);
    return {
      deduplicationId: `chunk:${job.id}:${marked.chunk}:${marked.publications}:${marked.throttles}`,
      retries: delivery.retries,
      failureCallback: true,
      flowControl: delivery.flowControl,
      timeoutSeconds: Math.ceil(this.deps.config.maxDurationMs / 1000),
      ...(delaySeconds > 0 ? { delaySeconds } : {}),
    };
  }

  private task(job: JobRow, type: string, payload: unknown): TaskMessage {
    return { type, payload, correlation_id: job.correlationId ?? job.id };
  }

  private kindOf(job: JobRow): JobKind {
    const kind = this.deps.kinds.get(job.kind);
    // A job of a kind this deployment does not know cannot be worked on: a retry will not help.
    if (!kind) throw new PermanentChunkError(`no handler is registered for job kind "${job.kind}"`);
    return kind;
  }

  /**
   * The chunk task. Safe to deliver any number of times, concurrently or late. Waits
   * for one of the process's chunk slots first (at most half the time budget, so the
   * chunk keeps the other half), and claims the chunk only once it has one.
   */
  async handleChunk(jobId: string, chunk: number, delivery: Delivery): Promise<ChunkDeliveryResult> {
    const startedAtMs = Date.now();
    const { maxDurationMs, deadlineMarginMs } = this.deps.config;
    const job = await findJob(this.db, jobId);
    const release = await this.slots.acquire(Math.floor((maxDurationMs - deadlineMarginMs) / 2));
    try {
      return await this.runChunk(job, jobId, chunk, delivery, startedAtMs);
    } finally {
      release();
    }
  }

  private async runChunk(
    // Read before the wait for a slot: a job cancelled meanwhile is caught by the claim.
    job: JobRow | null | undefined,
    jobId: string,
    chunk: number,
    delivery: Delivery,
    startedAtMs: number,
  ): Promise<ChunkDeliveryResult> {
    if (!job) return "unknown_job";
    if (job.status === "cancelled") return "cancelled";
    if (TERMINAL_STATUSES.includes(job.status)) return "job_finished";

    const owner = `${delivery.messageId ?? "direct"}:${randomUUID().slice(0, 8)}`;
    const leaseMs = this.deps.kinds.get(job.kind)?.leaseMs ?? this.deps.config.leaseMs;
    let claim = await this.store.claimChunk(jobId, chunk, owner, leaseMs);
    if (claim.status === "unknown") {
      // The hot state was lost (e.g. embedded mode restarted): rebuild it from Postgres.
      await this.store.restoreJob(jobId, await jobSnapshot(this.db, job));
      log.warn("rebuilt lost job state from job_chunks", { event: "state_restored", job_id: jobId });
      claim = await this.store.claimChunk(jobId, chunk, owner, leaseMs);
    }
    const chunkLog = log.child({ job_id: jobId, chunk });
    switch (claim.status) {
      case "cancelled":
        return "cancelled";
      case "leased":
        chunkLog.debug("chunk is leased to another worker", { owner: claim.owner });
        return "leased";
      case "done":
        await this.finaliseIfComplete(jobId);
        return "already_done";
      case "unknown":
        throw new Error(`job state for ${jobId} is missing right after it was restored`);
      case "claimed":
        break;
    }
    // The durable attempt number survives lost Redis state and retries on demand.
    const row = await recordAttempt(this.db, jobId, chunk);
    if (!row) {
      await this.store.releaseLease(jobId, chunk, owner);
      throw new PermanentChunkError(`job ${jobId} has no chunk ${chunk}`);
    }
    const attempt = row.attempts;
    chunkLog.debug("chunk claimed", { event: "chunk_claimed", attempt, retried: delivery.retried });
    if (row.status === "cancelled") {
      // Cancelled in Postgres before Redis heard of it: nothing to do, nothing to count.
      await this.store.releaseLease(jobId, chunk, owner);
      return "cancelled";
    }
    if (row.status !== "pending") {
      // Committed by an earlier delivery that died before telling Redis: report the stored outcome.
      await this.complete(jobId, chunk, outcomeOf(row), { kind: job.kind });
      chunkLog.info("recovered a committed chunk", { event: "chunk_recovered" });
      return "recovered";
    }

    const heartbeat = setInterval(
      () => {
        void this.heartbeat(jobId, chunk, owner, leaseMs);
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    const budget = startBudget({
      maxDurationMs: this.deps.config.maxDurationMs,
      marginMs: this.deps.config.deadlineMarginMs,
      startedAtMs,
    });
    const timer = chunkLog.start("processChunk");
    try {
      const done = await this.processClaimed(job, chunk, row, chunkLog, budget);
      await this.deps.faults?.afterCommit?.(jobId, chunk, job.kind);
      // Work handed on: the totals grow before this chunk completes, so the job cannot
      // look complete without it; then the new chunks go out. A worker dying in between
      // leaves them in Postgres, where the watchdog finds them.
      if (done.grown) {
        await this.store.growJob(jobId, done.grown);
        await this.publishMarked(job, await markFirstPublications(this.db, jobId));
      }
      const { work } = done;
      await this.complete(jobId, chunk, { ...work, failed: false }, { kind: job.kind, startedAtMs });
      timer.finish("chunk completed", {
        event: "chunk_completed",
        rows_done: work.rowsDone,
        rows_failed: work.rowsFailed,
        handed_on: work.next?.length ?? 0,
      });
      return "completed";
    } catch (error) {
      return await this.chunkFailed(error, { job, chunk, owner, timer });
    } finally {
      clearInterval(heartbeat);
      budget.dispose();
    }
  }

  /** Runs the kind's processChunk on a claimed chunk; what it committed, or a PermanentChunkError if nothing. */
  private async processClaimed(
    job: JobRow,
    chunk: number,
    row: ChunkRow,
    chunkLog: Logger,
    budget: TimeBudget,
  ): Promise<CommittedChunk> {
    let committed: CommittedChunk | null = null;
    await this.kindOf(job).processChunk({
      job,
      chunk,
      payload: row.payload,
      attempt: row.attempts,
      log: chunkLog,
      signal: budget.signal,
      timeLeftMs: () => budget.remainingMs(),
      commit: async (work) => {
        if (committed) throw new Error("commit() called twice for one chunk");
        committed = await commitChunk(this.db, job.id, chunk, work);
        return committed.work;
      },
    });
    const done = committed as CommittedChunk | null;
    if (!done) throw new PermanentChunkError("the chunk handler returned without committing its work");
    return done;
  }

  /**
   * What a chunk that did not complete amounts to: already committed (by another
   * delivery, or cancelled), throttled (published again with its delay), failed for
   * good, or transient (the lease given back and the error rethrown: the queue retries).
   */
  private async chunkFailed(
    error: unknown,
    at: { job: JobRow; chunk: number; owner: string; timer: ReturnType<Logger["start"]> },
  ): Promise<ChunkDeliveryResult> {
    const { job, chunk, owner, timer } = at;
    if (error instanceof ChunkAlreadyCommitted) {
      const stored = await findChunk(this.db, job.id, chunk);
      if (stored?.status === "cancelled") {
        // The job was cancelled while this chunk worked: its writes rolled back.
        timer.finish("chunk stopped by a cancel; nothing committed", { event: "chunk_cancelled" });
        return "cancelled";
      }
      if (stored && stored.status !== "pending") await this.complete(job.id, chunk, outcomeOf(stored), { kind: job.kind });
      return "already_done";
    }
    if (error instanceof WorkerCrash) throw error; // a dead worker releases nothing
    if (error instanceof ChunkThrottled) {
      await this.store.releaseLease(job.id, chunk, owner);
      const delayS = Math.max(1, Math.ceil(error.retryAfterS));
      const marked = await markThrottled(this.db, job.id, chunk, delayS);
      if (marked) await this.publishMarked(job, [marked], delayS);
      timer.finish("chunk throttled; published again with a delay", { event: "chunk_throttled", retry_after_s: delayS });
      return "throttled";
    }
    if (error instanceof PermanentChunkError) {
      timer.finishWithError(error, "chunk failed permanently", { event: "chunk_failed" });
      await this.failChunk(job.id, chunk, error.message);
      return "failed";
    }
    // Transient: give the chunk back and let the queue retry with backoff.
    timer.finishWithError(error, "chunk failed; the queue will retry it", { event: "chunk_retried" });
    await this.store.releaseLease(job.id, chunk, owner);
    throw error;
  }

  private async heartbeat(jobId: string, chunk: number, owner: string, leaseMs: number): Promise<void> {
    try {
      await this.store.renewLease(jobId, chunk, owner, leaseMs);
      await touchJob(this.db, jobId);
    } catch (error) {
      // A missed heartbeat only risks a duplicate delivery, which the chunk commit guards against.
      log.warn("heartbeat failed", { job_id: jobId, chunk, err: error });
    }
  }

  /**
   * Brings a job's live state up to what Postgres committed when it fell behind (a
   * worker died between a chunk's commit and its completion in Redis): the totals grow
   * to the planned chunks, then each committed chunk completes as usual, so its metrics
   * count once, with the chunk, and never twice. (A state lost whole is restored from
   * the snapshot instead.)
   */
  async catchUpCommitted(job: JobRow, chunks: readonly ChunkRow[]): Promise<number> {
    const rowTotal = chunks.reduce((sum, chunk) => sum + chunk.rowsPlanned, 0);
    await this.store.growJob(job.id, { chunkTotal: chunks.length, rowTotal });
    let completed = 0;
    for (const row of chunks) {
      if (row.status !== "done" && row.status !== "failed") continue;
      await this.complete(job.id, row.chunk, outcomeOf(row), { kind: job.kind });
      completed += 1;
    }
    return completed;
  }

  /** Marks a pending chunk failed (Postgres, then Redis) and finalises if it was the last. */
  async failChunk(jobId: string, chunk: number, reason: string): Promise<boolean> {
    const row = await failChunk(this.db, jobId, chunk, reason);
    if (!row) return false;
    log.warn("chunk failed", { event: "chunk_failed", job_id: jobId, chunk, reason });
    await this.complete(jobId, chunk, outcomeOf(row));
    return true;
  }

  private async complete(jobId: string, chunk: number, outcome: ChunkTally, timing: { kind?: string; startedAtMs?: number } = {}): Promise<void> {
    const kind = timing.kind ?? (await findJob(this.db, jobId))?.kind ?? "unknown";
    const durationS = timing.startedAtMs === undefined ? null : (Date.now() - timing.startedAtMs) / 1000;
    const result = await this.store.completeChunk(jobId, chunk, { ...outcome, metrics: chunkMetrics(kind, outcome, durationS) });
    // allComplete is the very test finaliseIfComplete makes: no need to read the state again.
    if (result.allComplete && (await this.store.tryFinalise(jobId))) await this.chunksSettled(jobId);
  }

  private async finaliseIfComplete(jobId: string): Promise<void> {
    const state = await this.store.getJobState(jobId);
    if (!state || (state.counters.chunks_done ?? 0) + (state.counters.chunks_failed ?? 0) < state.chunkTotal) return;
    // One winner per job; finalise() is also guarded in Postgres, for the watchdog's sake.
    if (!(await this.store.tryFinalise(jobId))) return;
    await this.chunksSettled(jobId);
  }

  /**
   * Every chunk is settled: a kind with a job-wide step gets it run as its own task
   * (which finalises when it is done); any other job is finalised now. Also called by
   * the watchdog and at start-up recovery, so a lost step task is published again.
   */
  async chunksSettled(jobId: string): Promise<"finalised" | "step_published" | "nothing"> {
    const job = await findJob(this.db, jobId);
    if (!job || job.status !== "running") return "nothing";
    const kind = this.deps.kinds.get(job.kind);
    if (kind?.hasFinalStep && !job.totals.step_done) {
      return (await this.publishStep(job)) ? "step_published" : "nothing";
    }
    return (await this.finalise(jobId)) ? "finalised" : "nothing";
  }

  private async publishStep(job: JobRow): Promise<boolean> {
    const generation = await markStepPublished(this.db, job.id);
    if (generation === null) return false;
    await this.deps.queue.publish(this.task(job, TASK_TYPES.step, { job_id: job.id } satisfies StepTaskPayload), {
      deduplicationId: `step:${job.id}:${generation}`,
      retries: CHUNK_DELIVERY_RETRIES,
      failureCallback: true,
      timeoutSeconds: Math.ceil(this.deps.config.maxDurationMs / 1000),
    });
    log.info("job-wide step queued", { event: "step_published", job_id: job.id, generation });
    return true;
  }

  /**
   * The step task: runs the kind's job-wide step within the time budget, once more if
   * it handed work on, then finalises. A job no longer running (cancelled, finished)
   * skips it; a step already done only finalises.
   */
  async handleStep(jobId: string): Promise<"done" | "handed_on" | "skipped"> {
    const job = await findJob(this.db, jobId);
    if (!job || job.status !== "running") return "skipped";
    if (!job.totals.step_done) {
      const kind = this.kindOf(job);
      const budget = startBudget({ maxDurationMs: this.deps.config.maxDurationMs, marginMs: this.deps.config.deadlineMarginMs });
      const timer = log.start("finalStep", { job_id: jobId, kind: job.kind });
      let result: StepResult;
      try {
        result = await kind.finalStep({
          job,
          db: this.db,
          log: log.child({ job_id: jobId, operation: "finalStep" }),
          signal: budget.signal,
          timeLeftMs: () => budget.remainingMs(),
        });
      } catch (error) {
        timer.finishWithError(error, "job-wide step failed; the queue will retry it");
        throw error;
      } finally {
        budget.dispose();
      }
      if (result === "again") {
        await this.publishStep(job);
        timer.finish("job-wide step handed on", { event: "step_handed_on" });
        return "handed_on";
      }
      await markStepDone(this.db, jobId);
      timer.finish("job-wide step done", { event: "step_done" });
    }
    await this.finalise(jobId);
    return "done";
  }

  /**
   * Writes the final status and counters, summed from `job_chunks` (not from Redis).
   * Idempotent: only an active job is finished, so a second caller changes nothing.
   */
  async finalise(jobId: string): Promise<JobStatus | null> {
    const totals = await chunkTotals(this.db, jobId);
    if (totals.pending > 0) {
      log.warn("finalise skipped: chunks still pending in Postgres", { job_id: jobId, pending: totals.pending });
      return null;
    }
    const status: JobStatus =
      totals.chunks > 0 && totals.done === 0
        ? "failed"
        : totals.failed > 0 || totals.rowsFailed > 0
          ? "completed_with_errors"
          : "completed";
    const settled = await this.finish(jobId, () => Promise.resolve({ status, counters: finalCounters(totals) }), totals.firstError);
    if (!settled) return null;
    log.info("job finalised", { event: "job_finalised", job_id: jobId, status: settled.status, ...settled.counters });
    await this.afterFinalise(jobId, settled.status, settled.counters);
    return settled.status;
  }

  /**
   * The kind's settle() and the final status in one transaction; null when the job had
   * already finished. `decide` gives the status and counters once the job is locked.
   */
  private async finish(
    jobId: string,
    decide: (tx: Database) => Promise<SettledJob>,
    lastError: string | null,
  ): Promise<SettledJob | null> {
    return this.db.transaction(async (transaction) => {
      const tx = transaction as unknown as Database;
      // Locked first: two finalisers of one job (the last worker and the watchdog), or a
      // finaliser and a cancel, take turns, and the second finds it finished and writes nothing.
      const job = await lockJob(tx, jobId);
      if (!job || !ACTIVE_STATUSES.includes(job.status)) return null;
      const result = await decide(tx);
      const kind = this.deps.kinds.get(job.kind);
      const settled = kind ? await kind.settle({ job, db: tx, ...result, log: log.child({ job_id: jobId }) }) : result;
      return (await finishJob(tx, jobId, { ...settled, lastError })) ? { settled, kind: job.kind } : null;
    }).then((ended) => {
      // After the commit: only the one caller that ended the job counts it.
      if (ended && this.deps.metrics) recordMetrics(this.deps.metrics, jobEndMetrics(ended.kind, ended.settled.status));
      return ended?.settled ?? null;
    });
  }

  /**
   * Fails a job that has no plan to finalise (planning failed for good, or the queue
   * or the watchdog gave up on it), or whose job-wide step the queue gave up on. Its kind's afterFinalise runs as for a finalised
   * job, so that what a kind does at the end (an import's completion webhook) happens
   * however the job ended. False when the job had already finished.
   */
  async failJob(jobId: string, lastError: string): Promise<boolean> {
    // What chunks committed still counts (a job whose step failed had them all).
    const settled = await this.finish(
      jobId,
      async (tx) => ({ status: "failed", counters: finalCounters(await chunkTotals(tx, jobId)) }),
      lastError,
    );
    if (!settled) return false;
    await this.afterFinalise(jobId, settled.status, settled.counters);
    return true;
  }

  private async afterFinalise(jobId: string, status: JobStatus, counters: Record<string, number>): Promise<void> {
    const job = await findJob(this.db, jobId);
    const kind = job ? this.deps.kinds.get(job.kind) : undefined;
    if (job && kind) {
      await kind.afterFinalise({ job, db: this.db, status, counters, log: log.child({ job_id: jobId }) });
    }
  }

  /**
   * Stops a job and settles it like any other end, in one transaction: every pending
   * chunk is marked cancelled (waiting for the chunks committing at that moment, which
   * stay done and are counted), the kind's settle() runs, the job becomes `cancelled`
   * with the counters of what committed. Nothing commits after it: a chunk still
   * working finds its row cancelled when it commits and rolls back. Then no claim
   * succeeds (Redis), and the kind's afterFinalise runs once (an import's webhook).
   * Cancelling a cancelled job answers it again; a finished one is a 409.
   */
  async cancel(jobId: string): Promise<JobRow> {
    const job = await this.requireJob(jobId);
    if (job.status === "cancelled") return job;
    // Marking every pending chunk can deadlock with a publication marking several of them in
    // another order; Postgres then aborts one side, and the cancel tries again.
    const settled = await retryOnDeadlock(() =>
      this.finish(
        jobId,
        async (tx) => {
          await cancelPendingChunks(tx, jobId);
          return { status: "cancelled", counters: finalCounters(await chunkTotals(tx, jobId)) };
        },
        "cancelled on request",
      ),
    );
    if (!settled) {
      const now = await this.requireJob(jobId);
      if (now.status === "cancelled") return now;
      throw new AppError("conflict", `Job ${jobId} is already ${now.status}.`);
    }
    await this.store.cancelJob(jobId);
    log.info("job cancelled", { event: "job_cancelled", job_id: jobId, ...settled.counters });
    await this.afterFinalise(jobId, settled.status, settled.counters);
    return this.requireJob(jobId);
  }

  /** Re-runs the chunks that failed as a whole; rows rejected for bad data stay rejected, and a cancelled job is not retried. */
  async retry(jobId: string): Promise<number> {
    const job = await this.requireJob(jobId);
    if (job.status === "cancelled") {
      throw new AppError("conflict", `Job ${jobId} was cancelled; a cancelled job is not retried (start it again instead).`);
    }
    const chunks = await reopenFailedChunks(this.db, jobId);
    if (chunks.length === 0) {
      throw new AppError("conflict", `Job ${jobId} (${job.status}) has no failed chunks to retry.`);
    }
    const reopened = await this.requireJob(jobId);
    await this.store.restoreJob(jobId, await jobSnapshot(this.db, reopened));
    await this.publishChunks(reopened, chunks);
    log.info("failed chunks re-queued", { event: "job_retried", job_id: jobId, chunks: chunks.length });
    return chunks.length;
  }

  /** The queue gave up on a message: its chunk fails (or its job, for a plan task). */
  async handleDeliveryFailure(task: TaskMessage, detail: { status: number; retried: number }): Promise<void> {
    const reason = `the queue gave up after ${detail.retried + 1} attempt(s); last answer: HTTP ${detail.status}`;
    if (task.type === TASK_TYPES.chunk) {
      const { job_id, chunk } = task.payload as ChunkTaskPayload;
      await this.failChunk(job_id, chunk, reason);
    } else if (task.type === TASK_TYPES.plan) {
      const { job_id } = task.payload as PlanTaskPayload;
      await this.failJob(job_id, `planning failed: ${reason}`);
    } else if (task.type === TASK_TYPES.step) {
      const { job_id } = task.payload as StepTaskPayload;
      await this.failJob(job_id, `the job-wide step failed: ${reason}`);
    }
  }

  async requireJob(jobId: string): Promise<JobRow> {
    const job = await findJob(this.db, jobId);
    if (!job) throw new AppError("not_found", `No job ${jobId}.`);
    return job;
  }

  /** Durable status plus live progress. */
  async view(job: JobRow): Promise<JobView> {
    const finished = TERMINAL_STATUSES.includes(job.status);
    const state = finished ? null : await this.store.getJobState(job.id);
    // A finished job's counters are final; a running one without live state is summed
    // from job_chunks.
    const durable = state ? null : finished ? totalsFromFinalCounters(job) : await chunkTotals(this.db, job.id);
    const activity = finished
      ? null
      : { lastActivityMs: await lastActivityMs(this.db, job.id), stalledAfterMs: stalledAfterMs(this.deps.config) };
    const openEnded = this.deps.kinds.get(job.kind)?.openEnded ?? false;
    const progress = computeProgress(job, state, durable, activity, Date.now(), openEnded);
    return {
      id: job.id,
      kind: job.kind,
      status: job.status,
      params: job.params,
      counters: job.counters,
      last_error: job.lastError,
      created_at: job.createdAt.toISOString(),
      started_at: job.startedAt?.toISOString() ?? null,
      finished_at: job.finishedAt?.toISOString() ?? null,
      heartbeat_at: job.heartbeatAt?.toISOString() ?? null,
      progress,
    };
  }
}

/**
 * A working chunk beats the job's heartbeat every third of its lease, and claims and
 * commits are signs of life too: half a lease without any means nothing is working.
 */
export function stalledAfterMs(config: JobsConfig): number {
  return Math.floor(config.leaseMs / 2);
}

/** The counters a finished job keeps: rows and chunks by outcome, then the kind's own. */
function finalCounters(totals: ChunkTotals): Record<string, number> {
  return {
    rows_done: totals.rowsDone,
    rows_failed: totals.rowsFailed,
    chunks_done: totals.done,
    chunks_failed: totals.failed,
    ...(totals.cancelled > 0 ? { chunks_cancelled: totals.cancelled } : {}),
    ...(totals.throttles > 0 ? { chunks_throttled: totals.throttles } : {}),
    ...totals.counters,
  };
}

function totalsFromFinalCounters(job: JobRow): ChunkTotals {
  const {
    rows_done = 0,
    rows_failed = 0,
    chunks_done = 0,
    chunks_failed = 0,
    chunks_cancelled = 0,
    chunks_throttled = 0,
    ...counters
  } = job.counters;
  return {
    chunks: job.totals.chunks ?? chunks_done + chunks_failed + chunks_cancelled,
    done: chunks_done,
    failed: chunks_failed,
    cancelled: chunks_cancelled,
    pending: 0,
    throttles: chunks_throttled,
    rowsPlanned: job.totals.rows ?? rows_done + rows_failed,
    rowsDone: rows_done,
    rowsFailed: rows_failed,
    counters,
    firstError: job.lastError,
  };
}

/** Runs `work` again (a few times) when Postgres aborted it to break a deadlock (SQLSTATE 40P01). */
async function retryOnDeadlock<T>(work: () => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const code = (error as { code?: string; cause?: { code?: string } }).cause?.code ?? (error as { code?: string }).code;
      if (code !== "40P01" || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  }
}

function outcomeOf(row: ChunkRow): ChunkTally {
  return { rowsDone: row.rowsDone, rowsFailed: row.rowsFailed, failed: row.status === "failed", counters: row.counters };
}
