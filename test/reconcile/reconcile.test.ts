/**
 * Reconcile against the generator's outcome manifest: generated purchases and
 * settlements land through the import API, a run over everything decides every
 * (store, invoice) as the manifest says (outcome, amounts, split flag, order date),
 * counts per store agree, and the run's reads (status, results pages, CSV) show it.
 * Small chunks, so ranges, stores and orphans cross chunk boundaries.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Papa from "papaparse";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, type Summary } from "../../dev/generate/run.js";
import { queryRows } from "../../lib/db/client.js";
import { RECONCILE_OUTCOMES } from "../../lib/db/schema.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { availablePostgres } from "../support/databases.js";
import { importGenerated } from "../support/generated-data.js";
import { waitForStatus } from "../support/job-status.js";

const TOKEN = "reconcile-test-token-0123456789";
const postgres = availablePostgres();

interface ManifestRow {
  store: string;
  invoice: string;
  outcome: string;
  expected: string;
  actual: string;
  diff: string;
  split_invoice: string;
  order_date: string;
}

interface RunStatus {
  status: string;
  counts: Record<string, number>;
  amounts: Record<string, { expected: number; actual: number; diff: number }>;
  by_store: Record<string, { counts: Record<string, number> }>;
  aging: Record<string, number>;
  progress: { percent: number | null };
}

describe.skipIf(!postgres)("reconcile against the generator's outcome manifest", () => {
  let app: AppServer;
  let summary: Summary;
  let dir: string;
  let manifest: ManifestRow[];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "dropflow-reconcile-"));
    summary = await generate({
      rows: 8_000,
      files: 4,
      seed: "reconcile-1",
      badRate: 0.01,
      out: path.join(dir, "gen"),
      stores: 4,
      settlements: true,
      force: false,
    });
    manifest = Papa.parse<ManifestRow>(readFileSync(path.join(dir, "gen", "outcomes.csv"), "utf8"), {
      header: true,
      skipEmptyLines: true,
    }).data;
    app = await startAppServer(TOKEN, { DROPFLOW_RECONCILE_CHUNK: "150", DROPFLOW_CHUNK_ROWS: "2000" }, { dataDir: path.join(dir, "data") });
    const landed = await importGenerated(app, summary, path.join(dir, "gen"));
    expect(landed.map((l) => l.status).filter((s) => s === "failed")).toEqual([]);
  }, 180_000);
  afterAll(() => app?.close());

  const startRun = async (body: Record<string, unknown>) => {
    const created = await app.api("/api/reconcile", { method: "POST", body: JSON.stringify(body) });
    expect(created.status).toBe(202);
    const { job_id, status_url } = (await created.json()) as { job_id: string; status_url: string };
    expect(status_url).toBe(`/api/reconcile/${job_id}`);
    const status = await waitForStatus(async () => (await (await app.api(status_url)).json()) as RunStatus, {
      timeoutMs: 90_000,
    });
    return { job_id, status };
  };

  /** A run over everything, planned, its chunk messages held by the paused queue. */
  const startHeld = async () => {
    const engine = await app.server.runtime.engine();
    app.server.queue?.pause();
    const created = await app.api("/api/reconcile", { method: "POST", body: "{}" });
    const { job_id } = (await created.json()) as { job_id: string };
    // Let the plan through, then hold the chunk messages.
    app.server.queue?.resume();
    await waitForStatus(async () => engine.requireJob(job_id), { until: (job) => job.status === "running" });
    app.server.queue?.pause();
    return { engine, job_id };
  };

  const resultsOf = async (jobId: string) =>
    queryRows<{ store: string; invoice: string; outcome: string; expected: string | null; actual: string | null; diff: string | null; split_invoice: boolean; order_date: string | null }>(
      (await app.server.runtime.database()).db,
      sql`select s.name as store, r.invoice, r.outcome, r.expected::text, r.actual::text, r.diff::text, r.split_invoice,
                 to_char(r.order_date, 'YYYY-MM-DD') as order_date
          from reconcile_results r join stores s on s.id = r.store_id where r.job_id = ${jobId}`,
    );

  const asManifest = (row: Awaited<ReturnType<typeof resultsOf>>[number]) =>
    [row.store, row.invoice, row.outcome, row.expected ?? "", row.actual ?? "", row.diff ?? "", String(row.split_invoice), row.order_date ?? ""].join(",");

  it("decides every (store, invoice) as the manifest does, with the same counts per store", async () => {
    const { job_id, status } = await startRun({});
    expect(status.status).toBe("completed");
    expect(status.progress.percent).toBe(100);

    const got = (await resultsOf(job_id)).map(asManifest).sort();
    const want = manifest.map((m) => Object.values(m).join(",")).sort();
    expect(got.length).toBe(want.length);
    expect(got).toEqual(want);

    // Every outcome key, and counts that equal the manifest's, overall and per store.
    const tally = (rows: ManifestRow[]) =>
      Object.fromEntries(RECONCILE_OUTCOMES.map((o) => [o, rows.filter((r) => r.outcome === o).length]));
    expect(status.counts).toEqual(tally(manifest));
    for (const store of new Set(manifest.map((m) => m.store))) {
      expect(status.by_store[store]?.counts).toEqual(tally(manifest.filter((m) => m.store === store)));
    }
    const mismatches = manifest.filter((m) => m.outcome === "amount_mismatch");
    expect(status.amounts.amount_mismatch).toEqual({
      expected: mismatches.reduce((t, m) => t + Number(m.expected), 0),
      actual: mismatches.reduce((t, m) => t + Number(m.actual), 0),
      diff: mismatches.reduce((t, m) => t + Number(m.diff), 0),
    });
    expect(Object.keys(status.aging)).toEqual(["0-7", "8-14", "15-30", "31+"]);
    expect(Object.values(status.aging).reduce((t, n) => t + n, 0)).toBe(status.counts.missing_settlement);

    // The current outcomes are this run's.
    const { db } = await app.server.runtime.database();
    const [current] = await queryRows<{ n: number; other: number }>(
      db,
      sql`select count(*)::int as n, count(*) filter (where job_id <> ${job_id})::int as other from reconcile_outcomes`,
    );
    expect(current).toEqual({ n: manifest.length, other: 0 });
  });

  it("gives a clean run's results when every chunk is delivered twice at once and again by the queue", async () => {
    const { server } = app;
    const { engine, job_id } = await startHeld();
    const chunks = (await engine.view(await engine.requireJob(job_id))).progress.chunks.total;
    expect(chunks).toBeGreaterThan(10);
    const deliveries: Array<Promise<unknown>> = [];
    for (let chunk = chunks - 1; chunk >= 0; chunk--) {
      deliveries.push(engine.handleChunk(job_id, chunk, { messageId: `dup-a-${chunk}`, retried: 0 }));
      deliveries.push(engine.handleChunk(job_id, chunk, { messageId: `dup-b-${chunk}`, retried: 0 }));
    }
    await Promise.all(deliveries);
    server.queue?.resume(); // the queue's own copies arrive after the chunks are done
    const status = await waitForStatus(async () => (await (await app.api(`/api/reconcile/${job_id}`)).json()) as RunStatus);
    await server.queue?.idle();
    expect(status.status).toBe("completed");
    expect((await resultsOf(job_id)).map(asManifest).sort()).toEqual(manifest.map((m) => Object.values(m).join(",")).sort());
    const tally = Object.fromEntries(RECONCILE_OUTCOMES.map((o) => [o, manifest.filter((r) => r.outcome === o).length]));
    expect(status.counts).toEqual(tally);
  });

  it("cancelled mid-run, keeps exactly the ranges it decided, and starts none afterwards", async () => {
    const { server } = app;
    const { engine, job_id } = await startHeld();
    for (const chunk of [0, 1, 2]) await engine.handleChunk(job_id, chunk, { messageId: `before-cancel-${chunk}`, retried: 0 });
    const cancelled = await app.api(`/api/jobs/${job_id}/cancel`, { method: "POST" });
    expect(cancelled.status).toBe(200);
    server.queue?.resume();
    await server.queue?.idle();
    expect(await engine.handleChunk(job_id, 5, { messageId: "after-cancel", retried: 0 })).toBe("cancelled");
    const status = (await (await app.api(`/api/reconcile/${job_id}`)).json()) as RunStatus & { progress: { rows: { done: number } } };
    expect(status.status).toBe("cancelled");
    const decided = Object.values(status.counts).reduce((t, n) => t + n, 0);
    expect(decided).toBe(status.progress.rows.done);
    expect((await resultsOf(job_id)).length).toBe(decided);
    expect(decided).toBeGreaterThanOrEqual(3 * 150);
  });

  it("pages its results with a keyset cursor and downloads them as CSV", async () => {
    const { job_id } = await startRun({});
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/api/reconcile/${job_id}/results?outcome=amount_mismatch&limit=7${cursor ? `&cursor=${cursor}` : ""}`;
      const page = (await (await app.api(query)).json()) as { results: Array<{ invoice: string; store: string; outcome: string }>; next_cursor: string | null };
      for (const r of page.results) {
        expect(r.outcome).toBe("amount_mismatch");
        seen.push(`${r.store}|${r.invoice}`);
      }
      cursor = page.next_cursor;
    } while (cursor);
    const mismatches = manifest.filter((m) => m.outcome === "amount_mismatch").map((m) => `${m.store}|${m.invoice}`);
    expect(seen.slice().sort()).toEqual(mismatches.sort());
    expect(new Set(seen).size).toBe(seen.length);

    const csv = await app.api(`/api/reconcile/${job_id}/results?format=csv`);
    expect(csv.headers.get("content-type")).toContain("text/csv");
    const text = Buffer.from(await csv.arrayBuffer()).toString("utf8");
    expect(text.startsWith("\uFEFFstore,invoice,outcome,expected,actual,diff,split_invoice,order_date\r\n")).toBe(true);
    expect(text.trimEnd().split("\r\n").length).toBe(manifest.length + 1);

    const bad = await app.api(`/api/reconcile/${job_id}/results?cursor=not-a-cursor`);
    expect(bad.status).toBe(400);
  });

  it("gives identical results to two runs, and a sub-range run changes only its invoices' current outcomes", async () => {
    const first = await startRun({});
    const second = await startRun({});
    expect((await resultsOf(second.job_id)).map(asManifest).sort()).toEqual((await resultsOf(first.job_id)).map(asManifest).sort());

    const store = manifest[0]?.store as string;
    const days = manifest.filter((m) => m.store === store && m.outcome !== "orphan_settlement").map((m) => m.order_date).sort();
    const from = days[Math.floor(days.length / 3)] as string;
    const to = days[Math.floor((2 * days.length) / 3)] as string;
    const sub = await startRun({ store, from, to });
    const subResults = await resultsOf(sub.job_id);
    const inRange = manifest.filter((m) => m.store === store && m.order_date >= from && m.order_date <= to);
    expect(subResults.map(asManifest).sort()).toEqual(inRange.map((m) => Object.values(m).join(",")).sort());

    const { db } = await app.server.runtime.database();
    const byJob = await queryRows<{ job_id: string; n: number }>(
      db,
      sql`select job_id::text, count(*)::int as n from reconcile_outcomes group by job_id`,
    );
    expect(Object.fromEntries(byJob.map((r) => [r.job_id, r.n]))).toEqual({
      [second.job_id]: manifest.length - inRange.length,
      [sub.job_id]: inRange.length,
    });
  });

  it("completes a run whose filters match nothing with zero counts", async () => {
    const { status } = await startRun({ from: "2001-01-01", to: "2001-01-31" });
    expect(status.status).toBe("completed");
    expect(Object.values(status.counts).every((n) => n === 0)).toBe(true);
    expect(Object.keys(status.counts).sort()).toEqual([...RECONCILE_OUTCOMES].sort());
  });

  it("refuses bad filters naming the field, and every route without a token", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ from: "2025-02-30" }, "from"],
      [{ to: "yesterday" }, "to"],
      [{ from: "2025-03-02", to: "2025-03-01" }, "from"],
      [{ store: "No Such Store" }, "store"],
      [{ tolerance: -1 }, "tolerance"],
      [{ status: "lost" }, "status"],
      [{ store: "a\u0000b" }, "store"],
    ];
    for (const [body, field] of cases) {
      const response = await app.api("/api/reconcile", { method: "POST", body: JSON.stringify(body) });
      expect(response.status, JSON.stringify(body)).toBe(400);
      const problem = (await response.json()) as { error: { fields: Array<{ field: string }> } };
      expect(problem.error.fields.map((f) => f.field)).toContain(field);
    }
    const id = "0190f0e0-0000-7000-8000-000000000000";
    for (const [method, route] of [
      ["POST", "/api/reconcile"],
      ["GET", "/api/reconcile"],
      ["GET", `/api/reconcile/${id}`],
      ["GET", `/api/reconcile/${id}/results`],
    ] as const) {
      const none = await fetch(`${app.base}${route}`, { method, headers: { "content-type": "application/json" }, body: method === "POST" ? "{}" : undefined });
      expect(none.status, `${method} ${route}`).toBe(401);
      const wrong = await fetch(`${app.base}${route}`, {
        method,
        headers: { authorization: "Bearer wrong-token-0123456789", "content-type": "application/json" },
        body: method === "POST" ? "{}" : undefined,
      });
      expect(wrong.status, `${method} ${route}`).toBe(401);
    }
    expect((await app.api(`/api/reconcile/${id}`)).status).toBe(404);
  });
});
