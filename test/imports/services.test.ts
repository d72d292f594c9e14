/**
 * An import across processes (local services mode): every worker exits for real
 * right after its second chunk commit, before Redis hears of it; replacements take
 * over. The import must end with the counts of a clean run: every row read once,
 * every bad row reported once, every good line landed once.
 */
import { readFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { upload } from "@vercel/blob/client";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, type Summary } from "../../dev/generate/run.js";
import { type LocalServices, startLocalServices } from "../../dev/services.js";
import { applyBlobSdkSettings } from "../../lib/config.js";
import { newImportKey } from "../../lib/storage/index.js";
import { availablePostgres } from "../support/databases.js";
import { waitForStatus } from "../support/job-status.js";
import { expectAWorkerCrashed, requestSurvivingCrashes } from "../support/worker-crashes.js";

const postgres = availablePostgres();
const METRICS_TOKEN = "import-services-metrics-token-01";

describe.skipIf(!postgres)("import in local services mode with workers dying after their commits", () => {
  let services: LocalServices;
  let summary: Summary;
  let dir: string;
  let releaseBlob: (() => void) | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "dropflow-import-services-"));
    summary = await generate({
      rows: 6000,
      files: 3,
      seed: "services-1",
      badRate: 0.02,
      out: dir,
      stores: 3,
      settlements: false,
      force: false,
    });
    services = await startLocalServices({
      workers: 2,
      env: {
        DROPFLOW_FAULT_CRASH_AFTER_COMMIT: "2",
        DROPFLOW_CHUNK_ROWS: "400",
        DROPFLOW_MAX_DURATION_S: "5",
        DROPFLOW_DEADLINE_MARGIN_S: "0.5",
        DROPFLOW_LEASE_S: "6",
        DROPFLOW_STALL_S: "1",
        METRICS_TOKEN,
        // Job lifecycle events are INFO: the searchable logs need them emitted.
        LOG_LEVEL: "info",
      },
    });
  }, 120_000);
  afterAll(async () => {
    releaseBlob?.();
    await services?.stop();
  });

  const request = (p: string, init?: RequestInit) => requestSurvivingCrashes(services, p, init);

  // Every worker process dies at its second commit, replacements too: on a loaded
  // machine the leases of the chunks each dead worker held (6 s) add up past vitest's
  // default 30 s; the wait below gives the import 90 s.
  it("ends with exactly a clean run's counts", { timeout: 120_000 }, async () => {
    const headers = { authorization: `Bearer ${services.apiToken}` };
    releaseBlob = applyBlobSdkSettings(services.env.VERCEL_BLOB_API_URL ?? null);
    const files = [];
    for (const file of summary.files.filter((f) => f.file_type === "purchases").sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const name = path.basename(file.name);
      const key = newImportKey(name);
      await upload(key, readFileSync(path.join(dir, file.name)), {
        access: "private",
        handleUploadUrl: `${services.baseUrl}/api/uploads`,
        headers,
        contentType: "text/csv",
      });
      files.push({ key, name });
    }
    const before = services.pids.workers;
    const created = await request("/api/imports", {
      method: "POST",
      body: JSON.stringify({ file_type: "purchases", files }),
      headers: { ...headers, "content-type": "application/json", "x-correlation-id": "import-followed" },
    });
    expect(created.status).toBe(202);
    const { job_id } = (await created.json()) as { job_id: string };
    const status = await waitForStatus(
      async () => (await (await request(`/api/imports/${job_id}`, { headers })).json()) as { status: string; counts: Record<string, number> },
      { timeoutMs: 90_000, intervalMs: 200, what: `import ${job_id} to end` },
    );
    expectAWorkerCrashed(services, before);
    expect(status.status).toBe("completed_with_errors");
    expect(status.counts).toMatchObject({
      rows: summary.totals.rows,
      row_errors: summary.totals.rejectedRows,
      warnings: summary.totals.warningRows,
    });
    const db = new pg.Client({ connectionString: services.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ lines: number; errors: number }>(
        `select (select count(*)::int from purchase_lines) as lines,
                (select count(*)::int from import_row_errors where job_id = $1) as errors`,
        [job_id],
      );
      expect(rows[0]).toEqual({
        lines: summary.totals.landedLines,
        errors: summary.totals.rejectedRows + summary.totals.warningRows,
      });
      // Two workers that died mid-run fed one consistent set of metrics: the scrape equals the database.
      const { rows: chunks } = await db.query<{ done: number; rows: number; failed: number }>(
        `select count(*) filter (where status = 'done')::int as done, coalesce(sum(rows_done), 0)::int as rows,
                coalesce(sum(rows_failed), 0)::int as failed from job_chunks where job_id = $1`,
        [job_id],
      );
      const scrape = await (await request("/api/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
      const value = (series: string) => Number(scrape.split("\n").find((line) => line.startsWith(`${series} `))?.slice(series.length + 1) ?? 0);
      expect(value('dropflow_chunks_total{kind="import",outcome="done"}')).toBe(chunks[0]?.done);
      expect(value('dropflow_rows_total{kind="import",outcome="processed"}')).toBe(chunks[0]?.rows);
      expect(value('dropflow_rows_total{kind="import",outcome="rejected"}')).toBe(chunks[0]?.failed);
      expect(value('dropflow_jobs_finished_total{kind="import",status="completed_with_errors"}')).toBe(1);
    } finally {
      await db.end();
    }
    // Following the import's correlation id: every function that touched it, in order, across processes.
    // The finalising delivery stores its records when it ends, which can be just after the
    // status reads terminal: wait for them.
    type Logs = { records: Array<{ time: string; event: string | null; fields: { pid?: number } }> };
    const followed = async () => (await (await request("/api/logs?correlation_id=import-followed&limit=1000", { headers })).json()) as Logs;
    await expect.poll(async () => (await followed()).records.map((record) => record.event), { timeout: 15_000 }).toContain("job_finalised");
    const logs = await followed();
    const events = logs.records.map((record) => record.event);
    expect(events).toContain("job_created");
    expect(events).toContain("job_planned");
    expect(events).toContain("chunk_completed");
    expect(events).toContain("job_finalised");
    const times = logs.records.map((record) => record.time);
    expect(times).toEqual([...times].sort());
    expect(new Set(logs.records.map((record) => record.fields.pid)).size).toBeGreaterThan(1);
  });
});
