import { z } from "zod";
import type { LiveJobState } from "../kv/job-state.js";
import type { ChunkTotals, JobRow } from "./repository.js";

const count = z.number().int();

export const ProgressSchema = z
  .object({
    percent: z.number().nullable().describe("Null while the total is not known (a job that adds chunks as it goes)."),
    total_known: z.boolean().describe("False while chunks may still add more work: rows.total and chunks.total are so far."),
    rows: z.object({ total: count, done: count, failed: count }),
    chunks: z.object({ total: count, done: count, failed: count, cancelled: count, running: count }),
    rate_per_s: z.number().nullable(),
    eta_s: z.number().int().nullable().describe("Null when it cannot be known: no rate yet, or the job is stalled."),
    stalled_for_s: z
      .number()
      .int()
      .nullable()
      .describe("Seconds since anything last happened to an active job, once that is longer than the stall window; else null."),
  })
  .meta({ id: "Progress" });
export type Progress = z.infer<typeof ProgressSchema>;

export interface Activity {
  /** The job's last sign of life: a claim, a heartbeat of a working chunk, a commit. */
  lastActivityMs: number | null;
  /** How long without a sign of life makes an active job stalled. */
  stalledAfterMs: number;
}

/**
 * Progress of a job from its live state (Redis) while it runs, or from the summed
 * `job_chunks` outcomes when there is no live state (finished, or state lost).
 * A job that finished says 100 %, unless it was cancelled: then it says how far it
 * got. An active job with no sign of life for the stall window says so
 * (`stalled_for_s`) and gives no ETA: a rate measured before the stall says nothing
 * about when it will end.
 */
export function computeProgress(
  job: JobRow,
  live: LiveJobState | null,
  durable: ChunkTotals | null,
  activity: Activity | null = null,
  nowMs: number = Date.now(),
  openEnded = false,
): Progress {
  const rows = live
    ? { total: live.rowTotal, done: live.counters.rows_done ?? 0, failed: live.counters.rows_failed ?? 0 }
    : { total: durable?.rowsPlanned ?? 0, done: durable?.rowsDone ?? 0, failed: durable?.rowsFailed ?? 0 };
  const chunks = live
    ? {
        total: live.chunkTotal,
        done: live.counters.chunks_done ?? 0,
        failed: live.counters.chunks_failed ?? 0,
        cancelled: 0,
        running: live.running,
      }
    : {
        total: durable?.chunks ?? 0,
        done: durable?.done ?? 0,
        failed: durable?.failed ?? 0,
        cancelled: durable?.cancelled ?? 0,
        running: 0,
      };

  const processed = rows.done + rows.failed;
  const settledChunks = chunks.done + chunks.failed;
  const finished = job.finishedAt !== null;
  let percent: number;
  if (finished && job.status !== "cancelled") percent = 100;
  else if (rows.total > 0) percent = (100 * processed) / rows.total;
  else if (chunks.total > 0) percent = (100 * settledChunks) / chunks.total;
  // A job finished with nothing to do is done; one cancelled before its plan got nowhere.
  else percent = finished && job.status !== "cancelled" ? 100 : 0;

  const startedMs = live?.startedAtMs ?? job.startedAt?.getTime() ?? null;
  const endMs = job.finishedAt?.getTime() ?? nowMs;
  const elapsedS = startedMs === null ? 0 : (endMs - startedMs) / 1000;
  const rate = elapsedS > 0 && processed > 0 ? processed / elapsedS : null;
  const remaining = Math.max(0, rows.total - processed);
  const quietMs = !finished && activity && activity.lastActivityMs !== null ? nowMs - activity.lastActivityMs : 0;
  const stalled = activity !== null && quietMs >= activity.stalledAfterMs;
  // A cancelled job will not end later: no ETA, not 0.
  const totalKnown = finished || !openEnded;
  const eta = finished ? (job.status === "cancelled" ? null : 0) : stalled || !totalKnown ? null : rate ? remaining / rate : null;
  return {
    percent: totalKnown ? Math.min(100, Math.round(percent * 10) / 10) : null,
    total_known: totalKnown,
    rows,
    chunks,
    rate_per_s: rate === null ? null : Math.round(rate * 10) / 10,
    eta_s: eta === null ? null : Math.round(eta),
    stalled_for_s: stalled ? Math.round(quietMs / 1000) : null,
  };
}
