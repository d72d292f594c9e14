/**
 * What a job kind (import, reconcile, sync, the tests' kinds) gives the engine:
 * how to cut a job into chunks and how to do one chunk. The engine does the rest:
 * delivery, leases, idempotency, counters, finalisation, recovery.
 */
import type { z } from "zod";
import type { JobStatus } from "../db/schema.js";
import type { Database } from "../db/client.js";
import type { Logger } from "../log/index.js";

export interface JobRecord {
  id: string;
  seq: number;
  kind: string;
  status: JobStatus;
  params: unknown;
  correlationId: string | null;
}

export interface PlannedChunk {
  /** Small: ids, byte ranges, line numbers; never rows. */
  payload: unknown;
  rows: number;
}

export interface ChunkWork {
  rowsDone: number;
  rowsFailed: number;
  counters?: Record<string, number>;
}

export interface ChunkContext {
  job: JobRecord;
  chunk: number;
  payload: unknown;
  /** 1 for the first delivery that reached a worker, more for re-deliveries (durable, in job_chunks). */
  attempt: number;
  log: Logger;
  /** Aborted when the function's time budget runs out. */
  signal: AbortSignal;
  /**
   * Runs `work` in one transaction together with the chunk's outcome row: the data
   * and the "done" mark commit or roll back together. Call it once.
   */
  commit(work: (tx: Database) => Promise<ChunkWork>): Promise<ChunkWork>;
}

export interface PlanContext {
  job: JobRecord;
  db: Database;
  log: Logger;
  signal: AbortSignal;
}

export interface FinaliseContext {
  job: JobRecord;
  db: Database;
  status: JobStatus;
  counters: Record<string, number>;
  log: Logger;
}

export interface JobKind {
  kind: string;
  /**
   * Whether POST /api/jobs may create it directly with raw params. Only the test
   * kinds say yes; real kinds have their own routes that validate their input.
   */
  creatableViaApi?: boolean;
  /** Validates a new job's params (a 400 naming the field when they are wrong). */
  params?: z.ZodType;
  plan(ctx: PlanContext): Promise<PlannedChunk[]>;
  processChunk(ctx: ChunkContext): Promise<ChunkWork>;
  /**
   * Runs in the transaction that writes the final status, just before it, so what the
   * kind keeps beside the job (an import's file statuses) is never seen out of step
   * with it. It may add to the status and counters it is given (a file that failed at
   * planning makes a completed import completed_with_errors). Idempotent: a finaliser
   * that loses the race runs it too.
   */
  settle?(ctx: FinaliseContext): Promise<SettledJob>;
  /**
   * Runs once, after the final status is committed (e.g. an import's completion
   * webhook): after finalise, and after failJob for a job that never got a plan.
   */
  afterFinalise?(ctx: FinaliseContext): Promise<void>;
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
