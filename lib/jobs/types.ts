/**
 * What a job kind (import, reconcile, sync, the tests' kinds) gives the engine: its
 * schemas, how to cut a job into chunks and how to do one chunk. The engine does the
 * rest: delivery, leases, idempotency, counters, finalisation, recovery. A kind is
 * written with defineJobKind (kind.ts), which parses params and payloads with the
 * kind's zod schemas so that the kind's functions receive typed values.
 */
import type { z } from "zod";
import type { JobStatus } from "../db/schema.js";
import type { Database } from "../db/client.js";
import type { Logger } from "../log/index.js";

/** The job as a kind sees it; its params come typed beside it. */
export interface JobRecord {
  id: string;
  /** Monotonic creation order (an import's source rank: a later import wins). */
  seq: number;
  kind: string;
  status: JobStatus;
  params: unknown;
  correlationId: string | null;
}

export interface PlannedChunk<Payload = unknown> {
  /** Small: ids, byte ranges, line numbers; never rows. */
  payload: Payload;
  rows: number;
}

/** What one chunk's work amounted to, written with its data in one transaction. */
export interface ChunkWork<Payload = unknown> {
  /**
   * Work this chunk hands on, added to the job in the chunk's own commit (so exactly
   * once, whatever the deliveries): the rest of its own work as a continuation with a
   * cursor (its time budget ran short), or work it found (pages found while reading).
   * The job ends only when these have ended too.
   */
  next?: Array<PlannedChunk<Payload>>;
  rowsDone: number;
  rowsFailed: number;
  /** The kind's own counters, summed over the job (e.g. orders_inserted). */
  counters?: Record<string, number>;
  /**
   * The same kind of counts broken down by what they belong to (an import's file id):
   * a chunk may count for another key than its own (a correction of what an earlier
   * chunk counted). Read back summed per key with chunkCountsByKey().
   */
  countsByKey?: Record<string, Record<string, number>>;
}

export interface PlanContext<Params> {
  job: JobRecord;
  params: Params;
  db: Database;
  log: Logger;
  signal: AbortSignal;
}

export interface ChunkContext<Params, Payload> {
  job: JobRecord;
  params: Params;
  chunk: number;
  payload: Payload;
  /** 1 for the first delivery that reached a worker, more for re-deliveries (durable, in job_chunks). */
  attempt: number;
  log: Logger;
  /** Aborted when the function's time budget runs out. */
  signal: AbortSignal;
  /** Milliseconds left of the time budget: hand the rest on (ChunkWork.next) before it runs out. */
  timeLeftMs(): number;
  /**
   * Runs `work` in one transaction together with the chunk's outcome row: the data
   * and the "done" mark commit or roll back together. Call it once.
   */
  commit(work: (tx: Database) => Promise<ChunkWork<Payload>>): Promise<ChunkWork<Payload>>;
}

export interface FinaliseContext<Params> {
  job: JobRecord;
  params: Params;
  db: Database;
  status: JobStatus;
  counters: Record<string, number>;
  log: Logger;
}

/**
 * How a kind's chunks are delivered. Every field is optional: the default is one
 * flow-control key per job, 16 deliveries of it in flight, 3 queue retries, the
 * configured lease.
 */
export interface DeliveryPolicy<Params, Payload> {
  /**
   * Deliveries that share this key are limited together, across jobs (e.g. one key per
   * upstream account, so two syncs of one account share its rate limit). Default: the job.
   */
  flowKey?(chunk: { jobId: string; params: Params; payload: Payload }): string;
  /** Deliveries of one key in flight at once. */
  parallelism?: number;
  /** At most `rate` deliveries of one key started per `periodS` seconds. */
  rate?: number;
  periodS?: number;
  /** Queue-side retries of one publication after a failed delivery. */
  retries?: number;
  /** How long a claimed chunk is its worker's before another may take it (seconds). */
  leaseS?: number;
}

/**
 * Thrown by processChunk when the upstream said "too many requests, try again in N
 * seconds": the engine publishes the chunk again with that delay. Not a failure: it
 * does not use up the chunk's publications or the queue's retries, and the job's
 * `chunks_throttled` counter counts it.
 */
export class ChunkThrottled extends Error {
  readonly code = "chunk_throttled";
  constructor(
    readonly retryAfterS: number,
    message = `throttled; try again in ${retryAfterS} s`,
  ) {
    super(message);
    this.name = "ChunkThrottled";
  }
}

export interface StepContext<Params> {
  job: JobRecord;
  params: Params;
  db: Database;
  log: Logger;
  /** Aborted when the function's time budget runs out. */
  signal: AbortSignal;
  timeLeftMs(): number;
}

/** `again`: the step handed the rest of its work on (its budget ran short); run it once more. */
export type StepResult = "done" | "again";

/** A kind as its module writes it: typed by its own schemas. */
export interface JobKindDefinition<Params, Payload> {
  kind: string;
  /** Validates a new job's params (a 400 naming the field); the kind's functions get the parsed value. */
  params: z.ZodType<Params>;
  /** Each chunk's payload, parsed before processChunk (and by chunkOutcomes readers). */
  payload: z.ZodType<Payload>;
  /**
   * Whether POST /api/jobs may create it directly with raw params. Only the test
   * kinds say yes; real kinds have their own routes that validate their input.
   */
  creatableViaApi?: boolean;
  /**
   * The plan is not the whole job: chunks add more as they go (ChunkWork.next), so
   * until the job ends its progress says the total is not known rather than a percent.
   */
  openEnded?: boolean;
  delivery?: DeliveryPolicy<Params, Payload>;
  plan(ctx: PlanContext<Params>): Promise<Array<PlannedChunk<Payload>>>;
  /**
   * Work that runs once every chunk is settled and before the final status (a sync's
   * retire sweep, promoting a run's results), as its own task, not inside whichever
   * worker finished last. Idempotent: a lost or repeated step task runs it again.
   * Within its time budget: return "again" to be run once more.
   */
  finalStep?(ctx: StepContext<Params>): Promise<StepResult>;
  processChunk(ctx: ChunkContext<Params, Payload>): Promise<ChunkWork<Payload>>;
  /**
   * Runs in the transaction that writes the final status, just before it, so what the
   * kind keeps beside the job (an import's file statuses) is never seen out of step
   * with it. It may add to the status and counters it is given (a file that failed at
   * planning makes a completed import completed_with_errors). Runs once per job end:
   * the job row is locked and the end is written only for an active job.
   */
  settle?(ctx: FinaliseContext<Params>): Promise<SettledJob>;
  /**
   * Runs once, after the final status is committed (e.g. an import's completion
   * webhook): after finalise, cancel, and failJob for a job that never got a plan.
   */
  afterFinalise?(ctx: FinaliseContext<Params>): Promise<void>;
}

/** The final status and counters a kind's settle() leaves for the job row. */
export interface SettledJob {
  status: JobStatus;
  counters: Record<string, number>;
}

/**
 * Bad data or another error that a retry cannot fix: the chunk completes as failed
 * with this message, and the rest of the job goes on.
 */
export class PermanentChunkError extends Error {
  readonly code = "permanent_chunk_failure";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PermanentChunkError";
  }
}
