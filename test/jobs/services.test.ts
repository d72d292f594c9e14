/**
 * The engine across processes (local services mode): real Postgres, real Redis
 * behind the Upstash bridge, the QStash stand-in, two worker processes. Each
 * worker exits for real right after its third chunk commit (if it gets three), before
 * Redis hears of it; replacements take over. The job must end with exactly a clean run's counters:
 * a planned job, and a paged (open-ended) one whose workers die after committing a
 * chunk that hands work on, before the new chunks are published.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalServices, startLocalServices } from "../../dev/services.js";
import { availablePostgres } from "../support/databases.js";
import { waitForStatus } from "../support/job-status.js";
import { expectAWorkerCrashed, requestSurvivingCrashes } from "../support/worker-crashes.js";

const postgres = availablePostgres();

/**
 * A fresh set of local services per suite: the crash knob applies to each suite's first
 * two workers only (replacements run clean), so every suite sees its own workers die.
 */
function servicesSuite(name: string, tests: (ctx: SuiteContext) => void): void {
  describe.skipIf(!postgres)(name, () => {
    const ctx = {} as SuiteContext;
    beforeAll(async () => {
      ctx.services = await startLocalServices({
        workers: 2,
        env: {
          DROPFLOW_TEST_JOB_KINDS: "1",
          DROPFLOW_FAULT_CRASH_AFTER_COMMIT: "3",
          DROPFLOW_MAX_DURATION_S: "2",
          DROPFLOW_DEADLINE_MARGIN_S: "0.2",
          DROPFLOW_LEASE_S: "2.5",
          DROPFLOW_STALL_S: "1",
        },
      });
    }, 120_000);
    afterAll(async () => {
      await ctx.services?.stop();
    });
    tests(ctx);
  });
}

interface SuiteContext {
  services: LocalServices;
}

/** Workers die on purpose here: a request that hit a dying worker is sent again. */

async function runJob(services: LocalServices, params: Record<string, unknown>, kind = "test-rows") {
  const headers = { authorization: `Bearer ${services.apiToken}`, "content-type": "application/json" };
  const created = await requestSurvivingCrashes(services, "/api/jobs", { method: "POST", headers, body: JSON.stringify({ kind, params }) });
  expect(created.status).toBe(202);
  const { id } = (await created.json()) as { id: string };
  return waitForStatus(
    async () => (await (await requestSurvivingCrashes(services, `/api/jobs/${id}`, { headers })).json()) as { status: string; counters: Record<string, number> },
    { timeoutMs: 60_000, what: `job ${id}` },
  );
}

/** The counters a crash must not change. */
const counted = ({ counters }: { counters: Record<string, number> }) => ({
  rows_done: counters.rows_done,
  rows_failed: counters.rows_failed,
  chunks_done: counters.chunks_done,
  chunks_failed: counters.chunks_failed,
  rows_inserted: counters.rows_inserted,
  rows_updated: counters.rows_updated,
  rows_unchanged: counters.rows_unchanged,
});

servicesSuite("job engine in local services mode", (ctx) => {
  it("completes with a clean run's counters when workers die right after their commits", { timeout: 90_000 }, async () => {
    const before = ctx.services.pids.workers;
    const crashed = await runJob(ctx.services, { chunks: 20, rows_per_chunk: 10, offset: 0 });
    expectAWorkerCrashed(ctx.services, before);
    const clean = await runJob(ctx.services, { chunks: 20, rows_per_chunk: 10, offset: 10_000 });
    expect(crashed.status).toBe("completed");
    expect(clean.status).toBe("completed");
    expect(counted(crashed)).toEqual(counted(clean));
    expect(counted(clean)).toEqual({
      rows_done: 200,
      rows_failed: 0,
      chunks_done: 20,
      chunks_failed: 0,
      rows_inserted: 200,
      rows_updated: 0,
      rows_unchanged: 0,
    });
  });

});

servicesSuite("open-ended jobs in local services mode", (ctx) => {
  it("a paged job whose workers die mid-continuation (committed, not yet handed on) ends like a clean run", { timeout: 120_000 }, async () => {
    // 3 branches x 12 pages, 2 pages per chunk: 18 chunks, 15 of them handed on or found
    // while running; each chunk throttled once; a job-wide step that hands on once.
    const params = { pages: 12, pages_per_chunk: 2, fan_out: 2, rows_per_page: 3, throttle_first: true, final_step: true };
    const before = ctx.services.pids.workers;
    const crashed = await runJob(ctx.services, { ...params, offset: 100_000, account: "crashy" }, "paged");
    expectAWorkerCrashed(ctx.services, before);
    const clean = await runJob(ctx.services, { ...params, offset: 200_000, account: "clean" }, "paged");
    expect(crashed.status).toBe("completed");
    expect(clean.status).toBe("completed");
    expect(counted(crashed)).toEqual(counted(clean));
    expect(counted(clean)).toEqual({
      rows_done: 108,
      rows_failed: 0,
      chunks_done: 18,
      chunks_failed: 0,
      rows_inserted: 108,
      rows_updated: 0,
      rows_unchanged: 0,
    });
  });
});
