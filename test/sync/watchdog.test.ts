/**
 * Stuck runs are judged by heartbeat, not age: a slow run whose chunks still heartbeat
 * is left alone by the watchdog however often it runs (no page is read twice), while
 * a run whose worker died is recovered (test/sync/services.test.ts kills real workers).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncApp, startSyncApp } from "./harness.js";

let sync: SyncApp;

// The stall threshold is far below the run's length; the lease (heartbeat every third of
// it) leaves seconds of margin, so a loaded CI machine cannot make a live chunk look dead.

beforeAll(async () => {
  sync = await startSyncApp({ DROPFLOW_MAX_DURATION_S: "5", DROPFLOW_DEADLINE_MARGIN_S: "0.5", DROPFLOW_LEASE_S: "8", DROPFLOW_STALL_S: "0.5" }, { items: 1000 });
}, 60_000);
afterAll(() => sync?.app.close());

describe("the watchdog and a slow run", () => {
  it("leaves a slow, heartbeating run alone: it completes and no page is read twice", async () => {
    sync.sap.configure({ latency: { baseMs: 400 } });
    const started = await sync.start("sap", { mode: "full" });
    const jobId = String(started.body.job_id);
    let ended = false;
    const finishing = sync.finish(jobId).finally(() => (ended = true));
    while (!ended) {
      await sync.app.server.watchdogNow();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const run = await finishing;
    expect(run).toMatchObject({ status: "completed", seen_unique: 1000 });
    const queries = sync.sap.requests().filter((r) => r.route === "Items").map((r) => r.query);
    expect(queries.length).toBeGreaterThan(5);
    expect(new Set(queries).size).toBe(queries.length);
  });
});
