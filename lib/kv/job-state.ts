/**
 * The hot state of running jobs (docs/job-engine.md): per-chunk leases and attempts, the
 * set of completed chunks, counters, the cancel and finalise flags. Postgres
 * (`job_chunks`) is the durable record; this store can always be rebuilt from it
 * with `restoreJob`.
 *
 * Every method is ONE atomic step (one Lua script on Redis), so that QStash's
 * at-least-once deliveries and the Redis client's own retries of a write whose
 * answer was lost never count anything twice: `completeChunk` for a chunk that is
 * already complete changes nothing.
 *
 * Chunks are numbered 0..chunkTotal-1. Times are milliseconds; the store uses its
 * own clock (Redis `TIME` in the Upstash adapter) for lease expiry, so workers with
 * skewed clocks agree on it.
 */
import type { FieldUpdate } from "../metrics/deltas.js";

/** What a chunk's work amounted to. `counters` are job-specific (e.g. orders_inserted). */
export interface ChunkTally {
  rowsDone: number;
  rowsFailed: number;
  /** The chunk failed as a whole (a permanent error, or the queue gave up on it). */
  failed: boolean;
  counters?: Record<string, number>;
  /**
   * The chunk's metrics (rows, chunks, its duration: lib/metrics), applied in the same
   * atomic step and only when the chunk is newly complete, so a duplicate delivery
   * never counts twice.
   */
  metrics?: readonly FieldUpdate[];
}

export type ClaimResult =
  /** The caller holds the lease until `expiresAtMs`; `attempt` counts claims, from 1. */
  | { status: "claimed"; attempt: number; expiresAtMs: number }
  /** Already complete: do no work (re-report the stored outcome). */
  | { status: "done" }
  /** Another owner holds a live lease. */
  | { status: "leased"; owner: string; expiresAtMs: number }
  | { status: "cancelled" }
  /** The store knows nothing of the job (state lost, e.g. a restart of embedded mode): restore it first. */
  | { status: "unknown" };

export interface CompleteResult {
  /** False when the chunk was already complete: nothing was counted this time. */
  newlyCompleted: boolean;
  chunksDone: number;
  chunksFailed: number;
  chunkTotal: number;
  /** chunksDone + chunksFailed === chunkTotal. */
  allComplete: boolean;
}

export interface Lease {
  chunk: number;
  owner: string;
  expiresAtMs: number;
}

export interface LiveJobState {
  chunkTotal: number;
  rowTotal: number;
  startedAtMs: number;
  cancelled: boolean;
  finalised: boolean;
  /** rows_done, rows_failed, chunks_done, chunks_failed, plus every custom counter (0 when never bumped). */
  counters: Record<string, number>;
  /** Chunks whose lease is live now. */
  running: number;
  /** Claims per chunk (only chunks claimed at least once). */
  attempts: Record<number, number>;
}

export interface JobInit {
  chunkTotal: number;
  rowTotal: number;
  startedAtMs: number;
}

/** Everything `job_chunks` knows, to rebuild the hot state after it was lost. */
export interface JobStateSnapshot extends JobInit {
  cancelled: boolean;
  finalised: boolean;
  completed: Array<{ chunk: number; outcome: ChunkTally }>;
}

export interface JobStateStore {
  /** Creates the job's state; does nothing if it exists (safe to repeat). */
  initJob(jobId: string, init: JobInit): Promise<void>;
  /** Replaces the job's whole state with the snapshot; leases and attempts are dropped. */
  restoreJob(jobId: string, snapshot: JobStateSnapshot): Promise<void>;
  /** Takes (or, for the same owner, renews) the chunk's lease unless done, cancelled or leased to another. */
  claimChunk(jobId: string, chunk: number, owner: string, leaseMs: number): Promise<ClaimResult>;
  /** Extends the owner's lease; false if the owner no longer holds it (also: expired, or unknown job). */
  renewLease(jobId: string, chunk: number, owner: string, leaseMs: number): Promise<boolean>;
  /** Drops the owner's lease (a transient failure: let the queue's retry claim it again). */
  releaseLease(jobId: string, chunk: number, owner: string): Promise<void>;
  /**
   * Marks the chunk complete and adds its outcome to the counters, once; drops its lease.
   * Rejects with `JobStateMissingError` when the store does not know the job (restore it first).
   */
  completeChunk(jobId: string, chunk: number, outcome: ChunkTally): Promise<CompleteResult>;
  /**
   * Raises the job's chunk and row totals to at least these (chunks added while it
   * runs). Idempotent and monotonic: a repeat, or a late caller with smaller totals,
   * changes nothing. No-op for an unknown job (its state is rebuilt from Postgres).
   */
  growJob(jobId: string, totals: { chunkTotal: number; rowTotal: number }): Promise<void>;
  /** True for exactly one caller per job: the one that may finalise it. */
  tryFinalise(jobId: string): Promise<boolean>;
  /** Sets the cancel flag: later claims answer `cancelled` (chunks already done: `done`). No-op for an unknown job. */
  cancelJob(jobId: string): Promise<void>;
  getJobState(jobId: string): Promise<LiveJobState | null>;
  /** Live leases only. */
  getLeases(jobId: string): Promise<Lease[]>;
  deleteJob(jobId: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
