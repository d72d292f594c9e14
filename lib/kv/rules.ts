/**
 * What both JobStateStore adapters (memory, Upstash) check and compute the same way,
 * so their answers cannot drift apart: argument validation, the standard counters,
 * and how a snapshot folds into counters when a job's state is rebuilt.
 */
import type { ChunkTally, JobInit, JobStateSnapshot } from "./job-state.js";

export const STANDARD_COUNTERS = ["rows_done", "rows_failed", "chunks_done", "chunks_failed"] as const;
const RESERVED = new Set<string>(STANDARD_COUNTERS);

/** Seven days: far past any job's life, short enough that abandoned state goes away. */
export const DEFAULT_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** The job's state is gone (expired, or lost with an embedded process): `restoreJob` it from Postgres first. */
export class JobStateMissingError extends Error {
  readonly code = "job_state_missing";
  constructor(readonly jobId: string) {
    super(`No state for job ${jobId} in the job state store; restore it from job_chunks first`);
    this.name = "JobStateMissingError";
  }
}

export function chunkOutOfRange(jobId: string, chunk: number, chunkTotal: number): RangeError {
  return new RangeError(`chunk ${chunk} is outside 0..${chunkTotal - 1} of job ${jobId}`);
}

function requireInteger(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

export function checkJobId(jobId: unknown): string {
  if (typeof jobId !== "string" || jobId === "" || jobId.length > 200) {
    throw new TypeError("jobId must be a non-empty string of at most 200 characters");
  }
  return jobId;
}

export function checkChunk(chunk: unknown): number {
  return requireInteger("chunk", chunk, 0);
}

export function checkOwner(owner: unknown): string {
  if (typeof owner !== "string" || owner === "") throw new TypeError("owner must be a non-empty string");
  return owner;
}

export function checkLeaseMs(leaseMs: unknown): number {
  return requireInteger("leaseMs", leaseMs, 1);
}

export function checkTtlMs(ttlMs: unknown): number {
  return requireInteger("ttlMs", ttlMs, 1);
}

export function checkInit(init: JobInit): JobInit {
  return {
    chunkTotal: requireInteger("chunkTotal", init.chunkTotal, 0),
    rowTotal: requireInteger("rowTotal", init.rowTotal, 0),
    startedAtMs: requireInteger("startedAtMs", init.startedAtMs, 0),
  };
}

export interface CheckedOutcome {
  rowsDone: number;
  rowsFailed: number;
  failed: boolean;
  counters: Array<[string, number]>;
}

/** An outcome, validated: integer counts, custom counters never named like a standard one. */
export function checkOutcome(outcome: ChunkTally): CheckedOutcome {
  const counters = Object.entries(outcome.counters ?? {});
  for (const [name, value] of counters) {
    if (name === "" || RESERVED.has(name)) throw new TypeError(`"${name}" cannot be a custom counter name`);
    requireInteger(`counter ${name}`, value, Number.MIN_SAFE_INTEGER);
  }
  return {
    rowsDone: requireInteger("rowsDone", outcome.rowsDone, 0),
    rowsFailed: requireInteger("rowsFailed", outcome.rowsFailed, 0),
    failed: outcome.failed === true,
    counters,
  };
}

export interface SnapshotSummary {
  done: number[];
  failed: number[];
  counters: Record<string, number>;
}

/**
 * The state that completing the snapshot's chunks one by one would build: a chunk
 * listed twice counts once (the first listing, as a repeated completeChunk would).
 */
export function summariseSnapshot(jobId: string, snapshot: JobStateSnapshot): SnapshotSummary {
  const init = checkInit(snapshot);
  const counters: Record<string, number> = { rows_done: 0, rows_failed: 0, chunks_done: 0, chunks_failed: 0 };
  const seen = new Set<number>();
  const failed: number[] = [];
  for (const { chunk, outcome } of snapshot.completed) {
    checkChunk(chunk);
    if (chunk >= init.chunkTotal) throw chunkOutOfRange(jobId, chunk, init.chunkTotal);
    const checked = checkOutcome(outcome);
    if (seen.has(chunk)) continue;
    seen.add(chunk);
    if (checked.failed) {
      failed.push(chunk);
      counters.chunks_failed = (counters.chunks_failed ?? 0) + 1;
    } else {
      counters.chunks_done = (counters.chunks_done ?? 0) + 1;
    }
    counters.rows_done = (counters.rows_done ?? 0) + checked.rowsDone;
    counters.rows_failed = (counters.rows_failed ?? 0) + checked.rowsFailed;
    for (const [name, value] of checked.counters) counters[name] = (counters[name] ?? 0) + value;
  }
  return { done: [...seen], failed, counters };
}
