/**
 * `dropflow import`, the real command in a child process (bin/dropflow.mjs, as npx runs
 * it) against the real app in process on real Postgres: files from the data generator
 * uploaded with Vercel Blob client uploads to the app's Blob stand-in, imported and
 * followed. What it prints must be what GET /api/imports/:id answers; its exit code
 * says how the import ended; what goes wrong before any import is one line on stderr.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, type Summary } from "../../dev/generate/run.js";
import { SETTLEMENT_HEADERS, writeSettlementWorkbook } from "../../dev/generate/settlement-workbook.js";
import { MULTIPART_ABOVE_BYTES } from "../../lib/cli/upload.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { availablePostgres } from "../support/databases.js";
import { cliEnvironment, countsUnder, runCli, startedId, TERMINAL_CONTROL } from "./run-cli.js";

const TOKEN = "cli-import-test-token-0123456789";
/** The app's DROPFLOW_MAX_UPLOAD_BYTES: room for the multipart file, not for the one too large. */
const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;
const postgres = availablePostgres();

interface ImportView {
  id: string;
  status: string;
  counts: Record<string, number>;
  errors_by_code: Record<string, number>;
  files: Array<{ name: string; size: number; status: string }>;
  reconcile_job_id: string | null;
  reconcile_run?: { id: string; status: string; counts: Record<string, number> };
}

/** A loopback port that was free a moment ago: connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.skipIf(!postgres)("dropflow import", () => {
  let app: AppServer;
  let env: Record<string, string>;
  let dir: string;
  let clean: Summary;
  let withErrors: Summary;
  const cleanDir = () => path.join(dir, "clean");
  const errorsDir = () => path.join(dir, "errors");
  const purchaseFiles = (summary: Summary, root: string) =>
    summary.files.filter((file) => file.file_type === "purchases").map((file) => path.join(root, file.name));

  beforeAll(async () => {
    app = await startAppServer(
      TOKEN,
      { DROPFLOW_CHUNK_ROWS: "1000", LOG_LEVEL: "error", DROPFLOW_MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) },
      { simulators: false },
    );
    env = cliEnvironment(app, TOKEN);
    dir = mkdtempSync(path.join(os.tmpdir(), "dropflow-cli-import-"));
    const common = { files: 2, stores: 2, settlements: true, force: true };
    clean = await generate({ ...common, rows: 3000, seed: "cli-clean", badRate: 0, out: cleanDir() });
    withErrors = await generate({ ...common, rows: 1000, seed: "cli-errors", badRate: 0.05, out: errorsDir(), settlements: false });
  });
  afterAll(async () => {
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const importView = async (id: string) => (await (await app.api(`/api/imports/${id}`)).json()) as ImportView;

  it("imports generated purchase files: exit 0, the counts GET /api/imports/:id answers, plain lines when stdout is no TTY", async () => {
    const files = purchaseFiles(clean, cleanDir());
    const run = await runCli(["import", ...files, "--kind", "purchases"], env);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const id = startedId(run.stdout, "import");
    const view = await importView(id);
    expect(view.status).toBe("completed");
    expect(view.counts.rows).toBe(clean.totals.rows);
    expect(countsUnder(run.stdout, "counts")).toEqual(view.counts);
    expect(run.stdout).toContain(`import ${id}  completed  purchases, 2 files`);
    // Not a terminal: lines, never a bar redrawn in place.
    expect(run.stdout).not.toMatch(TERMINAL_CONTROL);
    for (const file of files) expect(run.stdout).toMatch(new RegExp(`^uploaded ${path.basename(file)} \\(`, "m"));
    expect(run.stdout).toMatch(/^import {2}completed {2}100\.0% {2}3,000\/3,000 rows/m);
  });

  it("--json prints only the import as GET /api/imports/:id answers it", async () => {
    const files = purchaseFiles(clean, cleanDir());
    const run = await runCli(["import", ...files, "--file-type", "purchases", "--json"], env);
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as ImportView;
    const view = await importView(printed.id);
    expect(printed.status).toBe("completed");
    expect(printed.counts).toEqual(view.counts);
    // The same files again: every order is there already.
    expect(printed.counts).toMatchObject({ rows: clean.totals.rows, orders_inserted: 0, orders_unchanged: clean.totals.orders });
    expect(printed.files.map((file) => file.name)).toEqual(files.map((file) => path.basename(file)));
  });

  it("a file with bad rows exits 2, and 0 with --allow-errors; the row errors are the generator's", async () => {
    const files = purchaseFiles(withErrors, errorsDir());
    const run = await runCli(["import", ...files, "--kind", "purchases"], env);
    expect(run.code).toBe(2);
    const id = startedId(run.stdout, "import");
    const view = await importView(id);
    expect(view.status).toBe("completed_with_errors");
    expect(view.counts.row_errors).toBe(withErrors.totals.rejectedRows);
    expect(countsUnder(run.stdout, "counts")).toEqual(view.counts);
    expect(run.stdout).toContain(`all of them: dropflow errors ${id} --csv`);

    const allowed = await runCli(["import", ...files, "--kind", "purchases", "--allow-errors", "--json"], env);
    expect(allowed.code).toBe(0);
    const printed = JSON.parse(allowed.stdout) as ImportView;
    expect(printed.status).toBe("completed_with_errors");
    expect(printed.counts.row_errors).toBe(withErrors.totals.rejectedRows);
  });

  it("settlements with --reconcile: follows the reconcile run the import started", async () => {
    const store = clean.stores[0]?.name as string;
    const reports = clean.files.filter((file) => file.file_type === "settlements" && file.store === store).map((file) => path.join(cleanDir(), file.name));
    expect(reports.length).toBeGreaterThan(0);
    const run = await runCli(["import", ...reports, "--kind", "settlements", "--store", store, "--reconcile", "--json"], env);
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as ImportView;
    expect(printed.counts.settlements_inserted).toBeGreaterThan(0);
    expect(printed.reconcile_run?.status).toBe("completed");
    expect(printed.reconcile_job_id).toBe(printed.reconcile_run?.id);
    const run2 = (await (await app.api(`/api/reconcile/${printed.reconcile_job_id}`)).json()) as { counts: Record<string, number> };
    expect(printed.reconcile_run?.counts).toEqual(run2.counts);
    expect(printed.reconcile_run?.counts.matched).toBeGreaterThan(0);
  });

  it("imports a workbook as it is, from the sheet --sheet names", async () => {
    const store = "CLI Workbook Store";
    const { db } = await app.server.runtime.database();
    await db.execute(sql`insert into stores (name, channel) values (${store}, 'Shopee')`);
    const row = (k: number) => {
      const fields = new Array<string>(SETTLEMENT_HEADERS.length).fill("");
      fields[0] = String(k);
      fields[SETTLEMENT_HEADERS.indexOf("No. Pesanan")] = `CLIBOOK${k}`;
      fields[SETTLEMENT_HEADERS.indexOf("Waktu Pesanan Dibuat")] = "2025-05-02";
      fields[SETTLEMENT_HEADERS.indexOf("Harga Asli Produk")] = "40225500";
      fields[SETTLEMENT_HEADERS.indexOf("Jumlah Pengembalian Dana ke Pembeli")] = "0";
      fields[SETTLEMENT_HEADERS.indexOf("Total Penghasilan")] = "40000000";
      return fields;
    };
    const book = path.join(dir, "income.xlsx");
    await writeSettlementWorkbook(book, { username: "cli-seller", from: "2025-05-01", to: "2025-05-15", rows: [row(1), row(2), row(3)] });
    const run = await runCli(["import", book, "--kind", "settlements", "--store", store, "--sheet", "Income", "--json"], env);
    expect(run.code, run.stdout).toBe(0);
    const printed = JSON.parse(run.stdout) as ImportView & { files: Array<{ sheet: string | null }> };
    expect(printed.files).toEqual([expect.objectContaining({ name: "income.xlsx", status: "completed", sheet: "Income" })]);
    expect(printed.counts).toMatchObject({ rows: 3, row_errors: 0, settlements_inserted: 3 });
  });

  it("uploads a file above the multipart threshold in parts, and imports it whole", async () => {
    // A purchases file of the generator's, repeated past the threshold (later copies of an order replace earlier ones).
    const entry = clean.files.find((file) => file.file_type === "purchases");
    const source = path.join(cleanDir(), entry?.name as string);
    const big = path.join(dir, "big-orders.csv");
    const text = readFileSync(source, "utf8");
    const header = text.slice(0, text.indexOf("\n") + 1);
    const body = text.slice(header.length);
    let copies = 0;
    writeFileSync(big, header);
    while (statSync(big).size <= MULTIPART_ABOVE_BYTES) {
      writeFileSync(big, body.endsWith("\n") ? body : `${body}\n`, { flag: "a" });
      copies += 1;
    }
    const run = await runCli(["import", big, "--kind", "purchases", "--allow-errors", "--json"], env, { timeoutMs: 240_000 });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as ImportView;
    const view = await importView(printed.id);
    expect(view.files[0]?.size).toBe(statSync(big).size);
    expect(printed.counts).toEqual(view.counts);
    expect(view.counts.rows).toBe(copies * (entry?.rows as number));
  }, 300_000);

  it("a file that does not exist: one line on stderr, exit 1, nothing uploaded", async () => {
    const missing = path.join(dir, "no-such-orders.csv");
    const run = await runCli(["import", missing, "--kind", "purchases"], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(`dropflow: no such file: ${missing}\n`);
  });

  it("a file larger than the deployment takes is refused before any byte is sent; --blob-api-url sends the bytes elsewhere", async () => {
    const huge = path.join(dir, "huge.csv");
    writeFileSync(huge, "");
    truncateSync(huge, MAX_UPLOAD_BYTES + 1); // sparse: nothing is written
    const refused = await runCli(["import", huge, "--kind", "purchases"], env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toBe(`dropflow: ${huge} is 64.0 MiB; ${app.base} takes files of at most 64.0 MiB (DROPFLOW_MAX_UPLOAD_BYTES)\n`);

    // Where the deployment says uploads go is overridden by the flag: here, a port nobody listens on.
    const closed = await closedPort();
    const file = purchaseFiles(clean, cleanDir())[0] as string;
    const elsewhere = await runCli(["import", file, "--kind", "purchases", "--blob-api-url", `http://127.0.0.1:${closed}`], env);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toBe(`dropflow: uploading ${file} to http://127.0.0.1:${closed} failed: ECONNREFUSED\n`);
  }, 60_000);

  it("a wrong token: one line on stderr naming the refusal, exit 1", async () => {
    const files = purchaseFiles(clean, cleanDir());
    const run = await runCli(["import", ...files, "--kind", "purchases"], { ...env, DROPFLOW_TOKEN: "not-the-token-0123456789" });
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split("\n")).toEqual([
      `dropflow: the API token was refused by ${app.base} (401 unauthorized); check --token or DROPFLOW_TOKEN`,
    ]);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    // --json: the same line on stderr, and the error as JSON on stdout.
    const json = await runCli(["runs", "--json"], { ...env, DROPFLOW_TOKEN: "not-the-token-0123456789" });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "unauthorized", exit_code: 1, status: 401 } });
  });

  it("usage errors exit 64 with commander's or the CLI's one line", async () => {
    const file = purchaseFiles(clean, cleanDir())[0] as string;
    const cases: Array<[string[], RegExp]> = [
      [["import", file], /import needs --file-type \(or --kind\)/],
      [["import", file, "--kind", "orders"], /argument 'orders' is invalid/],
      [["import", file, "--kind", "purchases", "--file-type", "settlements"], /must not differ/],
      [["import", "--kind", "purchases"], /missing required argument 'files'/],
      [["import", file, "--kind", "purchases", "--bogus"], /unknown option '--bogus'/],
      [["status", "12"], /is not a job id/],
      [["reconcile", "--from", "2025-02-30"], /--from is not a calendar date/],
      [["reconcile", "--from", "2025-03-01", "--to", "2025-02-01"], /--from is after to/],
      [["runs", "--limit", "0"], /must be a whole number from 1 to 100/],
      [["frobnicate"], /unknown command 'frobnicate'/],
      [[], /Usage: dropflow/],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args, env);
      expect({ args, code: run.code }).toEqual({ args, code: 64 });
      expect(run.stderr).toMatch(message);
    }
    const noToken = await runCli(["runs"], { DROPFLOW_URL: app.base });
    expect(noToken.code).toBe(64);
    expect(noToken.stderr).toBe("dropflow: no API token: give --token or set DROPFLOW_TOKEN\n");
    const help = await runCli(["import", "--help"], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--file-type <type>");
  }, 120_000);
});
