/**
 * The simulator scenarios of a catalogue sync (docs/sync.md, "Scenarios"), each against
 * the eMAG and SAP simulators in process, with scaled limits and latencies.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { handleFor } from "../../lib/sync/items.js";
import { maxInWindow, type SyncApp, SCALED_EMAG, startSyncApp } from "./harness.js";

let sync: SyncApp;

beforeAll(async () => {
  sync = await startSyncApp({ DROPFLOW_SYNC_REQUEST_TIMEOUT_S: "2" });
}, 60_000);
afterAll(() => sync?.app.close());
beforeEach(() => sync.reset());

describe("1. happy path", () => {
  it("eMAG: every offer, counts that match, nothing throttled; a second run changes nothing", async () => {
    const run = await sync.run("emag");
    expect(run).toMatchObject({ status: "completed", reason: null, expected: { at_start: 250, at_end: 250 }, seen_unique: 250 });
    expect(run.items).toMatchObject({ created: 250, updated: 0, unchanged: 0, retired: 0 });
    expect(run.pages).toEqual({ read: 3, failed: 0, cap_hit: false });
    expect(run.requests).toMatchObject({ total: 5, throttled_429: 0, retries: 0 });
    const catalogue = await sync.catalogue("emag");
    const offers = sync.emag.offers("dropflow");
    expect(catalogue.map((row) => row.external_id).sort()).toEqual(offers.map((offer) => String(offer.id)).sort());
    const first = offers[0] as (typeof offers)[number];
    expect(catalogue.find((row) => row.external_id === String(first.id))).toMatchObject({
      name: first.name,
      sku: first.part_number,
      price: Number(first.sale_price).toFixed(4),
      currency: first.currency,
      stock: first.general_stock,
      handle: handleFor("emag", "sim", String(first.id), first.name),
    });
    const again = await sync.run("emag");
    expect(again.items).toMatchObject({ created: 0, updated: 0, unchanged: 250, retired: 0 });
  });

  it("SAP: every item, one login and one logout", async () => {
    const run = await sync.run("sap", { mode: "full" });
    expect(run).toMatchObject({ status: "completed", expected: { at_start: 230, at_end: 230 }, seen_unique: 230 });
    expect(run.items.created).toBe(230);
    await expect.poll(() => sync.sap.requests().filter((r) => r.route === "Logout").length).toBe(1);
    expect(sync.sap.requests().filter((r) => r.route === "Login")).toHaveLength(1);
    expect(sync.sap.sessionCount()).toBe(0);
    expect((await sync.catalogue("sap")).map((row) => row.external_id)).toEqual(sync.sap.items("SBODEMO").map((item) => item.ItemCode));
  });
});

describe("2. eMAG throttling", () => {
  it("paces bursts under the limit, and recovers from 429s when other traffic takes the account's room", async () => {
    await sync.reset({ offers: 1200 });
    const run = await sync.run("emag");
    expect(run.status).toBe("completed");
    const times = sync.emag.requests().map((r) => r.at);
    expect(sync.emag.requests().filter((r) => r.status === 429)).toEqual([]);
    expect(maxInWindow(times, 1000)).toBeLessThanOrEqual(SCALED_EMAG.perSecond);
    expect(run.requests.throttled_429).toBe(0);

    // The simulator allows half what the account is paced at: 429s come, and the run still completes.
    await sync.reset({ offers: 1200 });
    sync.emag.configure({ rateLimit: { other: { perSecond: 10, perMinute: 600 } } });
    const throttled = await sync.run("emag");
    expect(throttled.status).toBe("completed");
    expect(throttled.requests.throttled_429).toBeGreaterThan(0);
    expect(throttled.requests.throttled_429).toBe(sync.emag.requests().filter((r) => r.status === 429).length);
    expect(throttled.seen_unique).toBe(1200);
  });
});

describe("3. 5xx", () => {
  it("retries transient 5xx to a complete run", async () => {
    sync.emag.addFaults([{ route: "product_offer/read", page: 2, times: 2, respond: { kind: "http", status: 503 } }]);
    const run = await sync.run("emag");
    expect(run.status).toBe("completed");
    expect(run.requests.retries).toBe(2);
  });

  it("persistent 5xx on one account ends the run with gaps, never completed, and retires nothing", async () => {
    expect((await sync.run("emag")).status).toBe("completed");
    const now = Date.now();
    sync.emag.configure({ outages: [{ account: "dropflow", from: now, to: now + 3_600_000, statuses: [500, 502, 504] }] });
    sync.emag.addFaults([]);
    const run = await sync.run("emag");
    expect(["completed_with_gaps", "failed"]).toContain(run.status);
    expect(run.items.retired).toBe(0);
    expect((await sync.catalogue("emag")).filter((row) => row.retired)).toEqual([]);
  });

  it("SAP: a proxy 502 page twice, then the page", async () => {
    sync.sap.addFaults([{ route: "Items", times: 2, respond: { kind: "proxy502" } }]);
    const run = await sync.run("sap", { mode: "full" });
    expect(run.status).toBe("completed");
    expect(run.requests.retries).toBe(2);
  });
});

describe("4. a hang", () => {
  it("is cut by the request timeout, not retried in the same invocation, and the run resumes from its cursor", async () => {
    sync.emag.addFaults([{ route: "product_offer/read", page: 2, times: 1, respond: { kind: "hang" } }]);
    const started = Date.now();
    const run = await sync.run("emag");
    expect(run.status).toBe("completed");
    expect(run.seen_unique).toBe(250);
    // Page 2 was asked for twice: the hang, then the next invocation's read; no storm.
    expect(sync.emag.requests().filter((r) => r.route === "product_offer/read" && r.page === 2)).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe("5. data moving during paging", () => {
  it("eMAG inserts and deletes while reading: duplicates removed by key, completed_with_gaps with expected vs seen, nothing retired", async () => {
    await sync.reset({ offers: 600 });
    expect((await sync.run("emag")).status).toBe("completed");
    sync.emag.configure({
      mutation: {
        perRequest: [
          { op: "insert", count: 2, probability: 1 },
          { op: "delete", count: 1, probability: 1 },
        ],
      },
    });
    const run = await sync.run("emag");
    expect(run.status).toBe("completed_with_gaps");
    expect(run.expected.at_start).toBe(600);
    expect(run.expected.at_end).not.toBe(600);
    expect(run.reason).toMatch(/count moved/);
    expect(run.items.retired).toBe(0);
    expect((await sync.catalogue("emag")).filter((row) => row.retired)).toEqual([]);
  });

  it("SAP inserts before the cursor: keyset pages never repeat an item; the moved count is reported", async () => {
    sync.sap.configure({ mutation: { perRequest: [{ op: "insert", count: 1, probability: 1 }] } });
    const run = await sync.run("sap", { mode: "full" });
    expect(run.status).toBe("completed_with_gaps");
    expect(run.items.duplicates).toBe(0);
    expect(run.expected.at_end).toBeGreaterThan(run.expected.at_start ?? 0);
    expect(run.reason).toMatch(/count moved/);
    // A run with gaps logs its session out too.
    await expect.poll(() => sync.sap.requests().filter((r) => r.route === "Logout").length).toBe(1);
  });
});

describe("6. empty pages", () => {
  it("an empty page before the counted end is retried, not taken for the end", async () => {
    sync.emag.addFaults([{ route: "product_offer/read", page: 2, times: 1, respond: { kind: "empty_results" } }]);
    const run = await sync.run("emag");
    expect(run).toMatchObject({ status: "completed", seen_unique: 250 });
    expect(run.requests.retries).toBe(1);
  });

  it("a count that is a whole number of pages ends at the empty page after it (eMAG) or the full last page (SAP)", async () => {
    await sync.reset({ offers: 200, items: 200 });
    expect(await sync.run("emag")).toMatchObject({ status: "completed", seen_unique: 200 });
    expect(await sync.run("sap", { mode: "full" })).toMatchObject({ status: "completed", seen_unique: 200 });
  });
});

describe("7. SAP session expiry", () => {
  it.each([401, 403] as const)("mid-run with 5 workers answered %i: one re-login, every worker resumes", async (status) => {
    await sync.reset({ items: 2000 });
    sync.sap.configure({ invalidSessionStatus: status, latency: { baseMs: 30 } });
    const running = await sync.start("sap", { mode: "full" });
    expect(running.status).toBe(202);
    await expect.poll(() => sync.sap.requests().filter((r) => r.route === "Items").length, { timeout: 10_000 }).toBeGreaterThan(6);
    sync.sap.expireSessions();
    const run = await sync.finish(String(running.body.job_id));
    expect(run.status).toBe("completed");
    expect(run.seen_unique).toBe(2000);
    expect(sync.sap.requests().filter((r) => r.route === "Login")).toHaveLength(2);
    expect(run.requests.logins).toBe(2);
  });

  it("a run longer than SAP's idle timeout keeps its one session (each use extends it)", async () => {
    await sync.reset({ items: 7000 });
    // A 3 s idle timeout; 14 pages a range at 250 ms: a run of about 4 s.
    sync.sap.configure({ sessionTimeoutMin: 0.05, latency: { baseMs: 250 } });
    const run = await sync.run("sap", { mode: "full" });
    expect(run).toMatchObject({ status: "completed", seen_unique: 7000 });
    expect(Number(run.duration_s)).toBeGreaterThan(3);
    expect(sync.sap.requests().filter((r) => r.route === "Login")).toHaveLength(1);
  });

  it("a node recycled under the run: the same", async () => {
    await sync.reset({ items: 1000 });
    sync.sap.configure({ nodes: 1, nodeRecycleEveryN: 12 });
    const run = await sync.run("sap", { mode: "full" });
    expect(run).toMatchObject({ status: "completed", seen_unique: 1000 });
    expect(run.requests.logins).toBeGreaterThan(1);
  });
});

describe("8. counts", () => {
  it("a $count that is not a number fails the run; it is never read as zero", async () => {
    expect((await sync.run("sap", { mode: "full" })).status).toBe("completed");
    sync.sap.configure({ countGarbage: "html" });
    const run = await sync.run("sap", { mode: "full" });
    expect(run.status).toBe("failed");
    expect(run.reason).toMatch(/could not count the items at its start: SAP Items\/\$count: not a number/);
    expect(run.items.retired).toBe(0);
    expect((await sync.catalogue("sap")).filter((row) => row.retired)).toEqual([]);
  });

  it("eMAG counts as strings or as numbers read the same", async () => {
    sync.emag.configure({ countAsStrings: false });
    expect(await sync.run("emag")).toMatchObject({ status: "completed", expected: { at_start: 250 } });
  });
});

describe("9. credentials", () => {
  it("eMAG bad credentials: failed at once with the reason, one request, no retries", async () => {
    sync.setEmagAccount({ password: "wrong" });
    const run = await sync.run("emag");
    expect(run.status).toBe("failed");
    expect(run.reason).toMatch(/not allowed to use this API/);
    expect(sync.emag.requests()).toHaveLength(1);
    expect(run.requests.retries).toBe(0);
  });

  it("eMAG IP not allow-listed: the same", async () => {
    sync.emag.seed(1, [{ username: "dropflow", password: "dropflow-sim", offers: 250, allowedIps: ["203.0.113.9"] }]);
    const run = await sync.run("emag");
    expect(run.status).toBe("failed");
    expect(run.reason).toMatch(/Invalid vendor ip/);
    expect(sync.emag.requests()).toHaveLength(1);
  });

  it("SAP locked user: failed at once, one Login, nothing to log out", async () => {
    sync.sap.seed(1, [{ companyDb: "SBODEMO", users: [{ name: "manager", password: "sim-password", locked: true }], items: 230 }]);
    const run = await sync.run("sap", { mode: "full" });
    expect(run.status).toBe("failed");
    expect(run.reason).toMatch(/100000055/);
    expect(sync.sap.requests().map((r) => r.route)).toEqual(["Login"]);
  });
});

describe("retire and handles", () => {
  it("a complete full run retires what it did not see, and only that", async () => {
    await sync.run("emag");
    sync.emag.mutate("dropflow", [{ op: "delete", count: 3 }]);
    const run = await sync.run("emag");
    expect(run).toMatchObject({ status: "completed", seen_unique: 247 });
    expect(run.items.retired).toBe(3);
    expect((await sync.catalogue("emag")).filter((row) => row.retired)).toHaveLength(3);
  });
});
