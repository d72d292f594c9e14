/**
 * A reconcile run across processes (local services mode: real Postgres, real Redis
 * behind the Upstash bridge, the QStash stand-in, two workers) whose workers exit for
 * real right after their third reconcile chunk commit, before Redis hears of it. The
 * run must end with the results and counts of the generator's manifest, as a clean
 * run does.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Papa from "papaparse";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, type Summary } from "../../dev/generate/run.js";
import { type LocalServices, startLocalServices } from "../../dev/services.js";
import { RECONCILE_OUTCOMES } from "../../lib/db/schema.js";
import { availablePostgres } from "../support/databases.js";
import { waitForStatus } from "../support/job-status.js";
import { expectAWorkerCrashed, requestSurvivingCrashes } from "../support/worker-crashes.js";

const postgres = availablePostgres();

const METRICS_TOKEN = "reconcile-services-metrics-01";

describe.skipIf(!postgres)("reconcile in local services mode, workers killed after commits", () => {
  let services: LocalServices;
  let summary: Summary;
  let dir: string;

  const request = (route: string, init: RequestInit = {}) =>
    requestSurvivingCrashes(services, route, { ...init, headers: { authorization: `Bearer ${services.apiToken}`, ...init.headers } });

  /** One import of `names` (multipart), waited for. */
  const importFiles = async (fields: Record<string, string>, names: string[]) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.set(name, value);
    for (const name of names) form.append("files", new Blob([readFileSync(path.join(dir, name))]), path.basename(name));
    const created = await request("/api/imports", { method: "POST", body: form });
    expect(created.status).toBe(202);
    const { job_id } = (await created.json()) as { job_id: string };
    const done = await waitForStatus(async () => (await (await request(`/api/imports/${job_id}`)).json()) as { status: string }, {
      timeoutMs: 60_000,
    });
    expect(["completed", "completed_with_errors"]).toContain(done.status);
  };

  beforeAll(async () => {
    dir = path.join(mkdtempSync(path.join(os.tmpdir(), "dropflow-reconcile-services-")), "gen");
    summary = await generate({ rows: 3_000, files: 2, seed: "reconcile-services", badRate: 0.01, out: dir, stores: 3, settlements: true, force: false });
    services = await startLocalServices({
      workers: 2,
      env: {
        DROPFLOW_FAULT_CRASH_AFTER_COMMIT: "3",
        DROPFLOW_FAULT_CRASH_KIND: "reconcile",
        DROPFLOW_RECONCILE_CHUNK: "60",
        DROPFLOW_MAX_DURATION_S: "4",
        DROPFLOW_DEADLINE_MARGIN_S: "0.5",
        DROPFLOW_LEASE_S: "5",
        DROPFLOW_STALL_S: "2",
        METRICS_TOKEN,
      },
    });
    await importFiles({ file_type: "purchases" }, summary.files.filter((f) => f.file_type === "purchases").map((f) => f.name));
    const byStore = new Map<string, string[]>();
    for (const f of summary.files.filter((file) => file.file_type === "settlements")) {
      byStore.set(f.store as string, [...(byStore.get(f.store as string) ?? []), f.name]);
    }
    for (const [store, names] of byStore) await importFiles({ file_type: "settlements", store }, names);
  }, 180_000);
  afterAll(async () => {
    await services?.stop();
  });

  it("ends with the manifest's results and counts though workers died after a commit", { timeout: 120_000 }, async () => {
    const before = services.pids.workers;
    const created = await request("/api/reconcile", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(created.status).toBe(202);
    const { job_id } = (await created.json()) as { job_id: string };
    const status = await waitForStatus(
      async () => (await (await request(`/api/reconcile/${job_id}`)).json()) as { status: string; counts: Record<string, number> },
      { timeoutMs: 90_000 },
    );
    expect(status.status).toBe("completed");
    expectAWorkerCrashed(services, before);

    const manifest = Papa.parse<Record<string, string>>(readFileSync(path.join(dir, "outcomes.csv"), "utf8"), {
      header: true,
      skipEmptyLines: true,
    }).data;
    const client = new pg.Client({ connectionString: services.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ line: string }>(
        `select concat_ws(',', s.name, r.invoice, r.outcome, coalesce(r.expected::text, ''), coalesce(r.actual::text, ''),
                          coalesce(r.diff::text, ''), r.split_invoice::text, to_char(r.order_date, 'YYYY-MM-DD')) as line
         from reconcile_results r join stores s on s.id = r.store_id where r.job_id = $1`,
        [job_id],
      );
      expect(rows.map((r) => r.line).sort()).toEqual(manifest.map((m) => Object.values(m).join(",")).sort());
      // Workers that died after reconcile commits fed one consistent set of metrics: the scrape equals the database.
      const { rows: chunks } = await client.query<{ done: number; rows: number }>(
        `select count(*) filter (where c.status = 'done')::int as done, coalesce(sum(c.rows_done), 0)::int as rows
         from job_chunks c join jobs j on j.id = c.job_id where j.kind = 'reconcile'`,
      );
      const scrape = await (
        await fetch(`${services.baseUrl}/api/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
      ).text();
      const value = (series: string) => Number(scrape.split("\n").find((line) => line.startsWith(`${series} `))?.slice(series.length + 1) ?? 0);
      expect(value('dropflow_chunks_total{kind="reconcile",outcome="done"}')).toBe(chunks[0]?.done);
      expect(value('dropflow_rows_total{kind="reconcile",outcome="processed"}')).toBe(chunks[0]?.rows);
      expect(value('dropflow_jobs_finished_total{kind="reconcile",status="completed"}')).toBe(1);
    } finally {
      await client.end();
    }
    expect(status.counts).toEqual(
      Object.fromEntries(RECONCILE_OUTCOMES.map((o) => [o, manifest.filter((m) => m.outcome === o).length])),
    );
  });
});
