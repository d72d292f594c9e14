import type { JobState } from "../kv/job-state.js";
import type { ChunkTotals, JobRow } from "./repository.js";

export interface Progress {
  percent: number;
  rows: { total: number; done: number; failed: number };
  chunks: { total: number; done: number; failed: number; running: number };
  rate_per_s: number | null;
  eta_s: number | null;
}

/**
 * Progress of a job from its live state (Redis) while it runs, or from the summed
 * `job_chunks` outcomes when there is no live state (finished, or state lost).
 */
export function computeProgress(
  job: JobRow,
  live: JobState | null,
  durable: ChunkTotals | null,
  nowMs: number = Date.now(),
): Progress {
  const rows = live
    ? { total: live.rowTotal, done: live.counters.rows_done ?? 0, failed: live.counters.rows_failed ?? 0 }
    : { total: durable?.rowsPlanned ?? 0, done: durable?.rowsDone ?? 0, failed: durable?.rowsFailed ?? 0 };
  const chunks = live
    ? {
        total: live.chunkTotal,
        done: live.counters.chunks_done ?? 0,
        failed: live.counters.chunks_failed ?? 0,
        running: live.running,
      }
    : { total: durable?.chunks ?? 0, done: durable?.done ?? 0, failed: durable?.failed ?? 0, running: 0 };

  const processed = rows.done + rows.failed;
  const settledChunks = chunks.done + chunks.failed;
  const finished = job.finishedAt !== null;
  let percent: number;
  if (finished) percent = 100;
  else if (rows.total > 0) percent = (100 * processed) / rows.total;
  else if (chunks.total > 0) percent = (100 * settledChunks) / chunks.total;
  else percent = 0;

  const startedMs = live?.startedAtMs ?? job.startedAt?.getTime() ?? null;
  const endMs = job.finishedAt?.getTime() ?? nowMs;
  const elapsedS = startedMs === null ? 0 : (endMs - startedMs) / 1000;
  const rate = elapsedS > 0 && processed > 0 ? processed / elapsedS : null;
  const remaining = Math.max(0, rows.total - processed);
  const eta = finished ? 0 : rate ? remaining / rate : null;
  return {
    percent: Math.min(100, Math.round(percent * 10) / 10),
    rows,
    chunks,
    rate_per_s: rate === null ? null : Math.round(rate * 10) / 10,
    eta_s: eta === null ? null : Math.round(eta),
  };
}
