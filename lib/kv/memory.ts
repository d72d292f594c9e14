/**
 * The in-memory JobStateStore of embedded mode (one process: `npm run dev`, the demo,
 * most tests). Same semantics as the Upstash adapter, including the TTL (checked
 * lazily on access, and swept when jobs are created). Every method runs to completion
 * without awaiting, which is what makes each one atomic in a single Node process.
 * A restart loses everything, which the engine handles: claims answer `unknown` and
 * it restores the job from Postgres.
 */
import type {
  ChunkTally,
  ClaimResult,
  CompleteResult,
  JobInit,
  JobStateSnapshot,
  LiveJobState,
  JobStateStore,
  Lease,
} from "./job-state.js";
import {
  checkChunk,
  checkInit,
  checkJobId,
  checkLeaseMs,
  checkOutcome,
  checkOwner,
  checkTtlMs,
  chunkOutOfRange,
  DEFAULT_TTL_MS,
  JobStateMissingError,
  summariseSnapshot,
} from "./rules.js";
import type { MemoryMetrics } from "./metrics-store.js";

export interface MemoryJobStateStoreOptions {
  /** How long a job's state lives after its last init, restore or completion. */
  ttlMs?: number;
  /** Where a newly completed chunk's metrics go (the runtime's memory metrics). */
  metrics?: MemoryMetrics;
  /** The store's clock (tests may move it). */
  now?: () => number;
}

interface MemoryJob {
  chunkTotal: number;
  rowTotal: number;
  startedAtMs: number;
  cancelled: boolean;
  finalised: boolean;
  counters: Map<string, number>;
  done: Set<number>;
  failed: Set<number>;
  leases: Map<number, { owner: string; expiresAtMs: number }>;
  attempts: Map<number, number>;
  expiresAtMs: number;
}

export function createMemoryJobStateStore(options: MemoryJobStateStoreOptions = {}): JobStateStore {
  const ttlMs = checkTtlMs(options.ttlMs ?? DEFAULT_TTL_MS);
  const now = options.now ?? Date.now;
  const jobs = new Map<string, MemoryJob>();

  function live(jobId: string): MemoryJob | undefined {
    const job = jobs.get(jobId);
    if (job && job.expiresAtMs <= now()) {
      jobs.delete(jobId);
      return undefined;
    }
    return job;
  }

  function sweep(): void {
    const at = now();
    for (const [jobId, job] of jobs) if (job.expiresAtMs <= at) jobs.delete(jobId);
  }

  function inRange(jobId: string, job: MemoryJob, chunk: number): void {
    if (chunk >= job.chunkTotal) throw chunkOutOfRange(jobId, chunk, job.chunkTotal);
  }

  function liveLease(job: MemoryJob, chunk: number, at: number): { owner: string; expiresAtMs: number } | undefined {
    const lease = job.leases.get(chunk);
    return lease && lease.expiresAtMs > at ? lease : undefined;
  }

  function newJob(init: JobInit): MemoryJob {
    return {
      ...init,
      cancelled: false,
      finalised: false,
      counters: new Map([
        ["rows_done", 0],
        ["rows_failed", 0],
        ["chunks_done", 0],
        ["chunks_failed", 0],
      ]),
      done: new Set(),
      failed: new Set(),
      leases: new Map(),
      attempts: new Map(),
      expiresAtMs: now() + ttlMs,
    };
  }

  function bump(job: MemoryJob, name: string, by: number): void {
    job.counters.set(name, (job.counters.get(name) ?? 0) + by);
  }

  return {
    async initJob(jobId: string, init: JobInit): Promise<void> {
      checkJobId(jobId);
      const checked = checkInit(init);
      sweep();
      const job = live(jobId);
      if (job) job.expiresAtMs = now() + ttlMs;
      else jobs.set(jobId, newJob(checked));
    },

    async restoreJob(jobId: string, snapshot: JobStateSnapshot): Promise<void> {
      checkJobId(jobId);
      const summary = summariseSnapshot(jobId, snapshot);
      sweep();
      const job = newJob(checkInit(snapshot));
      job.cancelled = snapshot.cancelled;
      job.finalised = snapshot.finalised;
      job.done = new Set(summary.done);
      job.failed = new Set(summary.failed);
      job.counters = new Map(Object.entries(summary.counters));
      jobs.set(jobId, job);
    },

    async claimChunk(jobId: string, chunk: number, owner: string, leaseMs: number): Promise<ClaimResult> {
      checkJobId(jobId);
      checkChunk(chunk);
      checkOwner(owner);
      checkLeaseMs(leaseMs);
      const job = live(jobId);
      if (!job) return { status: "unknown" };
      inRange(jobId, job, chunk);
      if (job.done.has(chunk)) return { status: "done" };
      if (job.cancelled) return { status: "cancelled" };
      const at = now();
      const expiresAtMs = at + leaseMs;
      const current = liveLease(job, chunk, at);
      if (current && current.owner !== owner) {
        return { status: "leased", owner: current.owner, expiresAtMs: current.expiresAtMs };
      }
      job.leases.set(chunk, { owner, expiresAtMs });
      if (current) return { status: "claimed", attempt: job.attempts.get(chunk) ?? 1, expiresAtMs };
      const attempt = (job.attempts.get(chunk) ?? 0) + 1;
      job.attempts.set(chunk, attempt);
      return { status: "claimed", attempt, expiresAtMs };
    },

    async renewLease(jobId: string, chunk: number, owner: string, leaseMs: number): Promise<boolean> {
      checkJobId(jobId);
      checkChunk(chunk);
      checkOwner(owner);
      checkLeaseMs(leaseMs);
      const job = live(jobId);
      if (!job) return false;
      const at = now();
      const current = liveLease(job, chunk, at);
      if (!current || current.owner !== owner) return false;
      current.expiresAtMs = at + leaseMs;
      return true;
    },

    async releaseLease(jobId: string, chunk: number, owner: string): Promise<void> {
      checkJobId(jobId);
      checkChunk(chunk);
      checkOwner(owner);
      const job = live(jobId);
      if (job?.leases.get(chunk)?.owner === owner) job.leases.delete(chunk);
    },

    async completeChunk(jobId: string, chunk: number, outcome: ChunkTally): Promise<CompleteResult> {
      checkJobId(jobId);
      checkChunk(chunk);
      const checked = checkOutcome(outcome);
      const job = live(jobId);
      if (!job) throw new JobStateMissingError(jobId);
      inRange(jobId, job, chunk);
      const newlyCompleted = !job.done.has(chunk);
      if (newlyCompleted) {
        job.done.add(chunk);
        if (checked.failed) {
          job.failed.add(chunk);
          bump(job, "chunks_failed", 1);
        } else {
          bump(job, "chunks_done", 1);
        }
        bump(job, "rows_done", checked.rowsDone);
        bump(job, "rows_failed", checked.rowsFailed);
        for (const [name, value] of checked.counters) bump(job, name, value);
        options.metrics?.applyNow(outcome.metrics ?? []);
      }
      job.leases.delete(chunk);
      job.expiresAtMs = now() + ttlMs;
      const chunksDone = job.counters.get("chunks_done") ?? 0;
      const chunksFailed = job.counters.get("chunks_failed") ?? 0;
      return {
        newlyCompleted,
        chunksDone,
        chunksFailed,
        chunkTotal: job.chunkTotal,
        allComplete: chunksDone + chunksFailed === job.chunkTotal,
      };
    },

    async growJob(jobId: string, totals: { chunkTotal: number; rowTotal: number }): Promise<void> {
      checkJobId(jobId);
      const job = live(jobId);
      if (!job) return;
      job.chunkTotal = Math.max(job.chunkTotal, totals.chunkTotal);
      job.rowTotal = Math.max(job.rowTotal, totals.rowTotal);
    },

    async tryFinalise(jobId: string): Promise<boolean> {
      checkJobId(jobId);
      const job = live(jobId);
      if (!job || job.finalised) return false;
      job.finalised = true;
      return true;
    },

    async cancelJob(jobId: string): Promise<void> {
      checkJobId(jobId);
      const job = live(jobId);
      if (job) job.cancelled = true;
    },

    async getJobState(jobId: string): Promise<LiveJobState | null> {
      checkJobId(jobId);
      const job = live(jobId);
      if (!job) return null;
      const at = now();
      let running = 0;
      for (const lease of job.leases.values()) if (lease.expiresAtMs > at) running += 1;
      return {
        chunkTotal: job.chunkTotal,
        rowTotal: job.rowTotal,
        startedAtMs: job.startedAtMs,
        cancelled: job.cancelled,
        finalised: job.finalised,
        counters: Object.fromEntries(job.counters),
        running,
        attempts: Object.fromEntries(job.attempts),
      };
    },

    async getLeases(jobId: string): Promise<Lease[]> {
      checkJobId(jobId);
      const job = live(jobId);
      if (!job) return [];
      const at = now();
      return [...job.leases]
        .filter(([, lease]) => lease.expiresAtMs > at)
        .map(([chunk, lease]) => ({ chunk, owner: lease.owner, expiresAtMs: lease.expiresAtMs }))
        .sort((a, b) => a.chunk - b.chunk);
    },

    async deleteJob(jobId: string): Promise<void> {
      checkJobId(jobId);
      jobs.delete(jobId);
    },

    async ping(): Promise<void> {},

    async close(): Promise<void> {
      jobs.clear();
    },
  };
}
