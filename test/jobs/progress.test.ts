/**
 * Progress as a poller sees it: an ETA only while the job shows signs of life, a
 * stall said as such, a cancelled job's true share.
 */
import { describe, expect, it } from "vitest";
import { computeProgress } from "../../lib/jobs/progress.js";
import { emptyChunkTotals, type JobRow } from "../../lib/jobs/repository.js";
import type { LiveJobState } from "../../lib/kv/job-state.js";

const NOW = Date.parse("2026-12-03T10:00:00Z");

function job(overrides: Partial<JobRow> = {}): JobRow {
  return {
    id: "00000000-0000-7000-8000-000000000001",
    seq: 1,
    kind: "import",
    status: "running",
    params: {},
    correlationId: null,
    totals: { rows: 1000, chunks: 10 },
    counters: {},
    lastError: null,
    createdAt: new Date(NOW - 120_000),
    startedAt: new Date(NOW - 100_000),
    finishedAt: null,
    heartbeatAt: null,
    ...overrides,
  };
}

const totals = emptyChunkTotals;

const live: LiveJobState = {
  chunkTotal: 10,
  rowTotal: 1000,
  startedAtMs: NOW - 100_000,
  cancelled: false,
  finalised: false,
  counters: { rows_done: 200, rows_failed: 0, chunks_done: 2, chunks_failed: 0 },
  running: 0,
  attempts: {},
};

describe("computeProgress", () => {
  it("gives an ETA while the job shows signs of life", () => {
    const progress = computeProgress(job(), live, null, { lastActivityMs: NOW - 5_000, stalledAfterMs: 60_000 }, NOW);
    expect(progress).toMatchObject({ percent: 20, rate_per_s: 2, eta_s: 400, stalled_for_s: null });
  });

  it("says how long a job has been stalled and gives no ETA (a restarted dev server's job at 20 %)", () => {
    const progress = computeProgress(job(), live, null, { lastActivityMs: NOW - 90_000, stalledAfterMs: 60_000 }, NOW);
    expect(progress).toMatchObject({ percent: 20, eta_s: null, stalled_for_s: 90 });
  });

  it("gives a cancelled job the share it reached, no ETA and nothing running", () => {
    const durable = totals({ chunks: 10, done: 3, cancelled: 7, rowsPlanned: 1000, rowsDone: 290, rowsFailed: 10 });
    const cancelled = job({ status: "cancelled", finishedAt: new Date(NOW - 1_000) });
    expect(computeProgress(cancelled, null, durable, null, NOW)).toMatchObject({
      percent: 30,
      chunks: { total: 10, done: 3, failed: 0, cancelled: 7, running: 0 },
      eta_s: null,
      stalled_for_s: null,
    });
  });

  it("gives a job cancelled before its plan 0 %", () => {
    const durable = totals({});
    const cancelled = job({ status: "cancelled", startedAt: null, finishedAt: new Date(NOW - 1_000) });
    expect(computeProgress(cancelled, null, durable, null, NOW)).toMatchObject({ percent: 0, eta_s: null });
  });

  it("gives a finished job 100 % and an ETA of 0, never stalled", () => {
    const done = job({ status: "completed", finishedAt: new Date(NOW - 1_000) });
    const durable = totals({ chunks: 10, done: 10, rowsPlanned: 1000, rowsDone: 1000 });
    expect(computeProgress(done, null, durable, null, NOW)).toMatchObject({ percent: 100, eta_s: 0, stalled_for_s: null });
  });
});
