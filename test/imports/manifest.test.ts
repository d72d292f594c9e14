/**
 * The generator's manifests against the importer: every deliberately bad row is
 * reported exactly once with its line, code and column, and every good row lands
 * (lines and margin equal what the generator computed from what it wrote), with
 * small chunks so orders and repeats cross chunk boundaries.
 */
import { readFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, type Summary } from "../../dev/generate/run.js";
import type { BadRowEntry } from "../../dev/generate/summary-types.js";
import type { DevServer } from "../../dev/server.js";
import { queryRows } from "../../lib/db/client.js";
import { newImportKey } from "../../lib/storage/index.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { availablePostgres } from "../support/databases.js";
import { waitForImport } from "../support/job-status.js";

const TOKEN = "manifest-test-token-0123456789";
const postgres = availablePostgres();

describe.skipIf(!postgres)("import against the generator's manifests", () => {
  let app: AppServer;
  let server: DevServer;
  let summary: Summary;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "dropflow-manifest-"));
    summary = await generate({
      rows: 12_000,
      files: 6,
      seed: "manifest-1",
      badRate: 0.02,
      out: path.join(dir, "gen"),
      stores: 5,
      settlements: false,
      force: false,
    });
    app = await startAppServer(
      TOKEN,
      { DROPFLOW_CHUNK_ROWS: "300", DROPFLOW_MAX_DURATION_S: "20", DROPFLOW_DEADLINE_MARGIN_S: "1" },
      { dataDir: path.join(dir, "data") },
    );
    server = app.server;
  }, 120_000);
  afterAll(() => app?.close());

  it("reports every bad row once with its line, code and column, and lands every good row", async () => {
    const files = [];
    for (const file of summary.files.filter((f) => f.file_type === "purchases").sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const key = newImportKey(path.basename(file.name));
      await server.runtime.objectStore().put(key, readFileSync(path.join(dir, "gen", file.name)), { contentType: "text/csv" });
      files.push({ key, name: path.basename(file.name) });
    }
    const created = await fetch(`${app.base}/api/imports`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ file_type: "purchases", files }),
    });
    expect(created.status).toBe(202);
    const { job_id } = (await created.json()) as { job_id: string };
    const status = await waitForImport<{ status: string; counts: Record<string, number> }>(app, job_id, {
      timeoutMs: 90_000,
    });
    expect(status.status).toBe("completed_with_errors");

    const expected = readFileSync(path.join(dir, "gen", "bad-rows.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as BadRowEntry)
      .map((e) => `${path.basename(e.file)}:${e.line}:${e.code}:${e.column ?? ""}`)
      .sort();
    const { db } = await server.runtime.database();
    const reported = (
      await queryRows<{ file: string; line: number; code: string; column: string | null }>(
        db,
        sql`select f.name as file, e.line, e.code, e."column" from import_row_errors e
            join import_files f on f.id = e.file_id where e.job_id = ${job_id}`,
      )
    )
      .map((e) => `${e.file}:${e.line}:${e.code}:${e.column ?? ""}`)
      .sort();
    expect(reported).toEqual(expected);

    expect(status.counts).toMatchObject({
      rows: summary.totals.rows,
      row_errors: summary.totals.rejectedRows,
      warnings: summary.totals.warningRows,
    });
    const [landed] = await queryRows<{ lines: number; margin: string }>(
      db,
      sql`select count(*)::int as lines, sum(line_margin)::text as margin from purchase_lines`,
    );
    expect(landed?.lines).toBe(summary.totals.landedLines);
    expect(Number(landed?.margin)).toBe(summary.totals.expectedMargin);
  });
});
