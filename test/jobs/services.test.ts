/**
 * The engine across processes (local services mode): real Postgres, real Redis
 * behind the Upstash bridge, the QStash stand-in, two worker processes. Each
 * worker exits for real right after its third chunk commit, before Redis hears of
 * it; replacements take over. The job must end with exactly a clean run's counters.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalServices, startLocalServices } from "../../dev/services.js";
import { availablePostgres } from "../support/databases.js";

const postgres = availablePostgres();

describe.skipIf(!postgres)("job engine in local services mode", () => {
  let services: LocalServices;
  const headers = () => ({ authorization: `Bearer ${services.apiToken}`, "content-type": "application/json" });

  beforeAll(async () => {
    services = await startLocalServices({
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
    await services?.stop();
  });

  /** Workers die on purpose here: a request that hit a dying worker is sent again. */
  async function request(path: string, init?: RequestInit): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fetch(`${services.baseUrl}${path}`, init);
      } catch (error) {
        // Until a replacement worker listens (both may be down at once for a few seconds).
        if (!(error instanceof TypeError) || attempt >= 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  async function runJob(params: Record<string, unknown>) {
    const created = await request("/api/jobs", {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ kind: "test-rows", params }),
    });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    const until = Date.now() + 60_000;
    for (;;) {
      const view = (await (await request(`/api/jobs/${id}`, { headers: headers() })).json()) as {
        status: string;
        counters: Record<string, number>;
      };
      if (!["queued", "planning", "running"].includes(view.status)) return view;
      if (Date.now() > until) throw new Error(`job still ${view.status}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it("completes with a clean run's counters when workers die right after their commits", async () => {
    const before = services.pids.workers;
    const crashed = await runJob({ chunks: 20, rows_per_chunk: 10, offset: 0 });
    // Both original workers are gone: each crashed at its third commit.
    expect(services.workerPids().filter((pid) => before.includes(pid))).toEqual([]);
    const clean = await runJob({ chunks: 20, rows_per_chunk: 10, offset: 10_000 });
    expect(crashed.status).toBe("completed");
    expect(clean.status).toBe("completed");
    const counted = ({ counters }: { counters: Record<string, number> }) => ({
      rows_done: counters.rows_done,
      rows_failed: counters.rows_failed,
      chunks_done: counters.chunks_done,
      chunks_failed: counters.chunks_failed,
      rows_inserted: counters.rows_inserted,
      rows_updated: counters.rows_updated,
      rows_unchanged: counters.rows_unchanged,
    });
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
