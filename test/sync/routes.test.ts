/**
 * The sync's HTTP surface: who may call what, one run per source and account,
 * Idempotency-Key, the cron's report, incremental SAP runs, cancel (SAP logs out),
 * the run list and the catalogue list, and hostile input.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type SyncApp, startSyncApp } from "./harness.js";

const CRON = "sync-cron-secret-0123456789";
let sync: SyncApp;

beforeAll(async () => {
  sync = await startSyncApp({ CRON_SECRET: CRON });
}, 60_000);
afterAll(() => sync?.app.close());
beforeEach(() => sync.reset());

const raw = (path: string, init: RequestInit = {}) => fetch(`${sync.app.base}${path}`, init);

describe("credentials", () => {
  const apiRoutes: Array<[string, string]> = [
    ["POST", "/api/sync/emag"],
    ["POST", "/api/sync/sap"],
    ["GET", "/api/sync/runs"],
    ["GET", "/api/sync/runs/01a24aa3-d511-703b-94bd-ae23e3ccb9ef"],
    ["GET", "/api/catalogue"],
  ];
  const cronRoutes: Array<[string, string]> = [
    ["GET", "/api/cron/sync-emag"],
    ["GET", "/api/cron/sync-sap"],
    ["GET", "/api/cron/sync-sap?mode=full"],
  ];

  it("every new route answers 401 without a token or with a wrong one", async () => {
    for (const [method, path] of [...apiRoutes, ...cronRoutes]) {
      for (const authorization of [undefined, "Bearer wrong-token-0123456789abcdef", "Basic Zm9vOmJhcg=="]) {
        const response = await raw(path, {
          method,
          headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
          ...(method === "POST" ? { body: "{}" } : {}),
        });
        expect(response.status, `${method} ${path} with ${authorization ?? "nothing"}`).toBe(401);
      }
    }
  });

  it("the cron routes refuse the API token, the API routes refuse the cron secret", async () => {
    for (const [method, path] of cronRoutes) {
      expect((await sync.app.api(path, { method })).status, path).toBe(401);
    }
    for (const [method, path] of apiRoutes) {
      const response = await raw(path, {
        method,
        headers: { authorization: `Bearer ${CRON}`, "content-type": "application/json" },
        ...(method === "POST" ? { body: "{}" } : {}),
      });
      expect(response.status, path).toBe(401);
    }
    expect(sync.emag.requests()).toEqual([]);
  });
});

describe("starting runs", () => {
  it("one run per source and account: a second start gets 409 sync_running with the running run's id", async () => {
    sync.emag.configure({ latency: { baseMs: 200 } });
    const first = await sync.start("emag");
    expect(first.status).toBe(202);
    const second = await sync.start("emag");
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ error: { code: "sync_running", job_id: first.body.job_id } });
    // SAP is another source: it starts.
    expect((await sync.start("sap", { mode: "full" })).status).toBe(202);
    expect((await sync.finish(String(first.body.job_id))).status).toBe("completed");
    expect((await sync.start("emag")).status).toBe(202);
  });

  it("honours Idempotency-Key: the same key answers the first response and starts nothing more", async () => {
    const send = () => sync.app.api("/api/sync/sap", { method: "POST", body: JSON.stringify({ mode: "full" }), headers: { "idempotency-key": "sync-key-1" } });
    const first = await send();
    const again = await send();
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toEqual(await first.json());
    const runs = (await (await sync.app.api("/api/sync/runs?source=sap")).json()) as { runs: unknown[] };
    expect(runs.runs).toHaveLength(1);
  });

  it("refuses what cannot be: an incremental eMAG run, an unknown source or account, unknown fields", async () => {
    const incremental = await sync.start("emag", { mode: "incremental" });
    expect(incremental.status).toBe(400);
    expect(JSON.stringify(incremental.body)).toMatch(/full scans/);
    expect((await sync.app.api("/api/sync/shopify", { method: "POST", body: "{}" })).status).toBe(400);
    const account = await sync.start("emag", { account: "nobody" });
    expect(account.status).toBe(404);
    expect(account.body).toMatchObject({ error: { code: "source_not_configured" } });
    expect((await sync.start("sap", { mode: "full", extra: 1 })).status).toBe(400);
    expect((await sync.start("sap", { mode: "sometimes" })).status).toBe(400);
  });

  it("the cron starts every account, and reports one still running instead of failing", async () => {
    sync.emag.configure({ latency: { baseMs: 200 } });
    const cron = (path: string) => raw(path, { headers: { authorization: `Bearer ${CRON}` } });
    const first = await cron("/api/cron/sync-emag");
    expect(first.status).toBe(200);
    const report = (await first.json()) as { started: Array<{ job_id: string; account: string }>; running: unknown[] };
    expect(report.started).toHaveLength(1);
    const second = (await (await cron("/api/cron/sync-emag")).json()) as { started: unknown[]; running: Array<{ job_id: string }> };
    expect(second.started).toEqual([]);
    expect(second.running).toEqual([{ account: "sim", job_id: report.started[0]?.job_id }]);
    const run = await sync.finish(report.started[0]?.job_id ?? "");
    expect(run).toMatchObject({ status: "completed", trigger: "cron" });
  });
});

describe("SAP incremental runs", () => {
  it("read what changed since the day before the last complete run; the first one is full", async () => {
    const first = await sync.start("sap");
    expect(first.body).toMatchObject({ mode: "full", note: expect.stringMatching(/no complete run/) });
    expect((await sync.finish(String(first.body.job_id))).status).toBe("completed");
    // The simulator's clock to our today, then 5 items touched and 3 renamed.
    const referenceNoon = Date.parse(`${sync.sap.items("SBODEMO").map((item) => item.UpdateDate).sort().at(-1)}T12:00:00Z`);
    sync.sap.advanceClock(Date.now() - referenceNoon);
    sync.sap.mutate("SBODEMO", [
      { op: "touch", count: 5 },
      { op: "rename", count: 3 },
    ]);
    const started = await sync.start("sap");
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    expect(started.body).toMatchObject({ mode: "incremental", since: yesterday });
    const run = await sync.finish(String(started.body.job_id));
    expect(run).toMatchObject({ status: "completed", mode: "incremental", expected: { at_start: 8 }, seen_unique: 8 });
    expect(run.items).toMatchObject({ created: 0, updated: 3, unchanged: 5, retired: 0 });
  });
});

describe("cancel", () => {
  it("a cancelled SAP run ends cancelled, its source is free, and its session is logged out", async () => {
    await sync.reset({ items: 3000 });
    sync.sap.configure({ latency: { baseMs: 150 } });
    const started = await sync.start("sap", { mode: "full" });
    await expect.poll(() => sync.sap.requests().filter((r) => r.route === "Items").length, { timeout: 10_000 }).toBeGreaterThan(3);
    const cancelled = await sync.app.api(`/api/jobs/${String(started.body.job_id)}/cancel`, { method: "POST" });
    expect(cancelled.status).toBe(200);
    const run = await sync.finish(String(started.body.job_id));
    expect(run.status).toBe("cancelled");
    await expect.poll(() => sync.sap.requests().filter((r) => r.route === "Logout").length, { timeout: 10_000 }).toBe(1);
    expect((await sync.start("sap", { mode: "full" })).status).toBe(202);
  });
});

describe("lists", () => {
  it("runs newest first by source, with a cursor; the catalogue by source and search, with a cursor", async () => {
    await sync.run("emag");
    await sync.run("sap", { mode: "full" });
    await sync.run("emag");
    const page1 = (await (await sync.app.api("/api/sync/runs?source=emag&limit=1")).json()) as { runs: Array<{ id: string; source: string }>; next_cursor: string };
    expect(page1.runs).toHaveLength(1);
    const page2 = (await (await sync.app.api(`/api/sync/runs?source=emag&limit=1&cursor=${page1.next_cursor}`)).json()) as {
      runs: Array<{ id: string }>;
      next_cursor: string | null;
    };
    expect(page2.runs).toHaveLength(1);
    expect(page2.runs[0]?.id).not.toBe(page1.runs[0]?.id);
    expect(page2.next_cursor).toBeNull();
    expect((await sync.app.api("/api/sync/runs?cursor=bm9wZQ")).status).toBe(400);

    const [offer] = sync.emag.offers("dropflow");
    const found = (await (await sync.app.api(`/api/catalogue?source=emag&q=${encodeURIComponent(offer?.part_number ?? "")}`)).json()) as {
      items: Array<{ external_id: string; handle: string }>;
    };
    expect(found.items.map((item) => item.external_id)).toContain(String(offer?.id));
    let seen = 0;
    let cursor: string | null = null;
    do {
      const page = (await (await sync.app.api(`/api/catalogue?source=sap&limit=100${cursor ? `&cursor=${cursor}` : ""}`)).json()) as {
        items: unknown[];
        next_cursor: string | null;
      };
      seen += page.items.length;
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toBe(230);
    // LIKE's wildcards in a search are text; a NUL is refused, not a 500.
    const wild = (await (await sync.app.api("/api/catalogue?q=%25_%5C")).json()) as { items: unknown[] };
    expect(wild.items).toEqual([]);
    expect((await sync.app.api("/api/catalogue?q=a%00b")).status).toBe(400);
  });
});

describe("hostile input", () => {
  it("answers 4xx, never 500, to bad bodies and ids", async () => {
    const bodies = ["{", '{"mode":"full\u0000"}', JSON.stringify({ mode: { $ne: 1 } }), "[".repeat(5000), JSON.stringify({ account: "x".repeat(10_000) })];
    for (const body of bodies) {
      const response = await sync.app.api("/api/sync/sap", { method: "POST", body });
      expect(response.status, body.slice(0, 30)).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
    }
    expect((await sync.app.api("/api/sync/runs/not-a-uuid")).status).toBe(400);
    expect((await sync.app.api("/api/sync/runs/01a24aa3-d511-703b-94bd-ae23e3ccb9ef")).status).toBe(404);
    expect((await sync.app.api("/api/sync/runs?source=../../etc")).status).toBe(400);
  });
});
