/**
 * A page cap that is hit ends the run `completed_with_gaps`, never `completed`, and
 * the run retires nothing (the silent truncation of the system this replaces).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SyncApp, startSyncApp } from "./harness.js";

let sync: SyncApp;

beforeAll(async () => {
  sync = await startSyncApp({ DROPFLOW_SYNC_MAX_PAGES: "5" }, { offers: 1200, items: 1200 });
}, 60_000);
afterAll(() => sync?.app.close());

describe("the page cap", () => {
  it.each(["emag", "sap"] as const)("%s: hit, the run ends completed_with_gaps saying so, and retires nothing", async (source) => {
    const run = await sync.run(source, source === "sap" ? { mode: "full" } : {});
    expect(run.status).toBe("completed_with_gaps");
    expect(run.pages.cap_hit).toBe(true);
    expect(run.reason).toMatch(/page cap \(5 pages\) was hit/);
    expect(run.seen_unique).toBeLessThan(1200);
    expect(run.items.retired).toBe(0);
  });
});
