/**
 * A run whose invocations run out of budget part-way hands the rest of each range on
 * as a continuation; it must end with the same catalogue, handles included, as a run
 * that was never interrupted. One app with a 1.5 s function budget: the interrupted
 * run reads a slow simulator, the uninterrupted one (on an emptied catalogue) a fast one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunRecord, type SyncApp, startSyncApp } from "./harness.js";

let sync: SyncApp;

beforeAll(async () => {
  sync = await startSyncApp(
    { DROPFLOW_MAX_DURATION_S: "2", DROPFLOW_DEADLINE_MARGIN_S: "0.5", DROPFLOW_SYNC_REQUEST_TIMEOUT_S: "0.5", DROPFLOW_SYNC_SAP_PAGE_SIZE: "20" },
    { offers: 1200, items: 1500 },
  );
}, 60_000);
afterAll(() => sync?.app.close());

const chunks = (record: RunRecord) => (record as unknown as { progress: { chunks: { total: number } } }).progress.chunks.total;

describe("a run interrupted by its budget", () => {
  it.each(["emag", "sap"] as const)("%s: continues in new invocations and ends with the uninterrupted run's catalogue", async (source) => {
    const body = source === "sap" ? { mode: "full" } : {};
    await sync.reset();
    sync.emag.configure({ latency: { baseMs: 150 } });
    sync.sap.configure({ latency: { baseMs: 80 } });
    const interrupted = await sync.run(source, body);
    const afterInterrupted = await sync.catalogue(source);

    await sync.reset();
    const whole = await sync.run(source, body);
    expect(interrupted.status).toBe("completed");
    expect(whole.status).toBe("completed");
    // More chunks than the start and its ranges: continuations were handed on.
    expect(chunks(interrupted)).toBeGreaterThan(chunks(whole));
    expect(interrupted.seen_unique).toBe(whole.seen_unique);
    expect(afterInterrupted).toEqual(await sync.catalogue(source));
  });
});
