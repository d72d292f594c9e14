/**
 * The CLI's other commands, each the real `dropflow` in a child process against the real
 * app in process on real Postgres (with its eMAG and SAP simulators), on generated data
 * landed through the import API: status, errors (a page, --json, --csv), reconcile,
 * report margin, sync and runs. Each prints what its route answers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Papa from "papaparse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, type Summary } from "../../dev/generate/run.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { availablePostgres } from "../support/databases.js";
import { importGenerated, type LandedImport } from "../support/generated-data.js";
import { cliEnvironment, countsUnder, runCli, startedId, TERMINAL_CONTROL } from "./run-cli.js";

const TOKEN = "cli-commands-test-token-0123456789";
const postgres = availablePostgres();

describe.skipIf(!postgres)("dropflow status, errors, reconcile, report margin, sync, runs", () => {
  let app: AppServer;
  let env: Record<string, string>;
  let dir: string;
  let summary: Summary;
  let purchases: LandedImport;
  const started: Record<string, string> = {};

  const get = async <T>(route: string): Promise<T> => {
    const response = await app.api(route);
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  };
  /** The body as sent, byte for byte (Response.text() would drop a download's BOM). */
  const text = async (route: string) => Buffer.from(await (await app.api(route)).arrayBuffer()).toString("utf8");

  beforeAll(async () => {
    app = await startAppServer(TOKEN, { DROPFLOW_CHUNK_ROWS: "500", LOG_LEVEL: "error" }, { simulators: { offers: 200, items: 200 } });
    env = cliEnvironment(app, TOKEN);
    dir = mkdtempSync(path.join(os.tmpdir(), "dropflow-cli-commands-"));
    summary = await generate({ rows: 2000, files: 2, stores: 2, seed: "cli-commands", badRate: 0.02, settlements: true, force: true, out: dir });
    const landed = await importGenerated(app, summary, dir);
    purchases = landed[0] as LandedImport;
    expect(purchases.status).toBe("completed_with_errors");
  });
  afterAll(async () => {
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("status of an import: its counts as GET /api/imports/:id, exit 2 for its row errors; --json is that answer", async () => {
    const view = await get<{ status: string; counts: Record<string, number>; errors_by_code: Record<string, number>; files: unknown[] }>(
      `/api/imports/${purchases.job_id}`,
    );
    const run = await runCli(["status", purchases.job_id], env);
    expect(run.code).toBe(2);
    expect(countsUnder(run.stdout, "counts")).toEqual(view.counts);
    expect(run.stdout).toContain(`import ${purchases.job_id}  completed_with_errors  purchases, 2 files`);
    const json = await runCli(["status", purchases.job_id, "--json"], env);
    expect(json.code).toBe(2);
    const printed = JSON.parse(json.stdout) as typeof view;
    expect(printed.counts).toEqual(view.counts);
    expect(printed.errors_by_code).toEqual(view.errors_by_code);
    expect(printed.files).toEqual(view.files);

    const unknown = await runCli(["status", "0190a0a0-0000-7000-8000-000000000000"], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^dropflow: GET \/api\/jobs\/0190a0a0-0000-7000-8000-000000000000 answered 404 not_found: .+\n$/);
  });

  it("errors: a page of lines, --json as the API's page, --csv the API's download byte for byte", async () => {
    const { counts } = await get<{ counts: Record<string, number> }>(`/api/imports/${purchases.job_id}`);
    const recorded = (counts.row_errors ?? 0) + (counts.warnings ?? 0);
    expect(recorded).toBeGreaterThan(5);
    const page = await runCli(["errors", purchases.job_id, "--limit", "5"], env);
    expect(page.code).toBe(0);
    const lines = page.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(6);
    expect(lines[5]).toBe(`more than 5: dropflow errors ${purchases.job_id} --csv for all of them`);
    const api = await get<{ errors: Array<{ file: string; line: number; code: string }> }>(`/api/imports/${purchases.job_id}/errors?limit=5`);
    api.errors.forEach((error, i) => expect(lines[i]).toMatch(new RegExp(`^${error.file}:${error.line} .*${error.code}`)));

    const json = await runCli(["errors", purchases.job_id, "--limit", "5", "--json"], env);
    expect(JSON.parse(json.stdout)).toEqual(api);

    const csv = await runCli(["errors", purchases.job_id, "--csv"], env);
    expect(csv.code).toBe(0);
    expect(csv.stdout).toBe(await text(`/api/imports/${purchases.job_id}/errors?format=csv`));
    const records = Papa.parse<string[]>(csv.stdout.replace(/^\uFEFF/, ""), { skipEmptyLines: true }).data;
    expect(records[0]).toEqual(["file", "line", "column", "code", "message", "raw", "sheet", "cell"]);
    expect(records).toHaveLength(recorded + 1);

    const both = await runCli(["errors", purchases.job_id, "--csv", "--json"], env);
    expect(both.code).toBe(64);
  });

  it("reconcile --store --from --to: starts a run, follows it in plain lines, prints its outcomes as GET /api/reconcile/:id", async () => {
    const store = summary.stores[0]?.name as string;
    const { from, to } = summary.window;
    const run = await runCli(["reconcile", "--store", store, "--from", from, "--to", to], env);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(TERMINAL_CONTROL);
    const id = startedId(run.stdout, "reconcile");
    started.reconcile = id;
    const view = await get<{ status: string; counts: Record<string, number>; filters: { store: string } }>(`/api/reconcile/${id}`);
    expect(view.status).toBe("completed");
    expect(view.filters.store).toBe(store);
    expect(run.stdout).toMatch(/^reconcile {2}completed {2}100\.0%/m);
    for (const [outcome, n] of Object.entries(view.counts)) {
      expect(run.stdout).toMatch(new RegExp(`^ {2}${outcome} +${n.toLocaleString("en-US")} `, "m"));
    }
    expect(view.counts.matched).toBeGreaterThan(0);

    const json = await runCli(["status", id, "--json"], env);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { counts: unknown }).counts).toEqual(view.counts);
  });

  it("report margin: the table with its TOTAL row, --json as GET /api/reports/margin, --csv its download", async () => {
    const report = await get<{ rows: Array<{ key: string; orders: number }>; totals: { orders: number } }>("/api/reports/margin?group=store");
    expect(report.rows.length).toBeGreaterThan(0);
    const table = await runCli(["report", "margin", "--group", "store"], env);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^store +orders +gross sales/);
    expect(lines).toHaveLength(report.rows.length + 2);
    expect(lines.at(-1)).toMatch(new RegExp(`^TOTAL +${report.totals.orders.toLocaleString("en-US")} `));
    for (const row of report.rows) expect(table.stdout).toMatch(new RegExp(`^${row.key} +${row.orders.toLocaleString("en-US")} `, "m"));

    const json = await runCli(["report", "margin", "--group", "store", "--json"], env);
    expect(JSON.parse(json.stdout)).toEqual(report);
    const csv = await runCli(["report", "margin", "--group", "month", "--csv"], env);
    expect(csv.stdout).toBe(await text("/api/reports/margin?group=month&format=csv"));
    const bad = await runCli(["report", "margin", "--group", "week"], env);
    expect(bad.code).toBe(64);
  });

  it("sync: runs SAP and eMAG from the simulators to completed, their records as GET /api/sync/runs/:id", async () => {
    for (const [source, args] of [["sap", ["--mode", "full"]], ["emag", []]] as const) {
      const run = await runCli(["sync", source, ...args], env, { timeoutMs: 180_000 });
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout).not.toMatch(TERMINAL_CONTROL);
      const id = startedId(run.stdout, "sync");
      started[source] = id;
      const record = await get<{ status: string; items: Record<string, number> }>(`/api/sync/runs/${id}`);
      expect(record.status).toBe("completed");
      expect(record.items.created).toBe(200);
      expect(countsUnder(run.stdout, "items")).toEqual({
        created: 200,
        updated: 0,
        unchanged: 0,
        duplicates: record.items.duplicates,
        rejected: record.items.rejected,
        retired: record.items.retired,
      });
      expect(run.stdout).toMatch(new RegExp(`^sync ${source} {2}completed {2}100\\.0% {2}200/200 items`, "m"));
    }
    const status = await runCli(["status", started.sap as string, "--json"], env);
    expect(JSON.parse(status.stdout)).toMatchObject({ id: started.sap, source: "sap", status: "completed" });
    const incremental = await runCli(["sync", "emag", "--mode", "incremental"], env);
    expect(incremental.code).toBe(1);
    expect(incremental.stderr).toMatch(/^dropflow: POST \/api\/sync\/emag answered 400 validation_failed: .*\n$/);
  }, 240_000);

  it("runs: imports, reconcile runs and sync runs together, newest first", async () => {
    const json = await runCli(["runs", "--json"], env);
    expect(json.code).toBe(0);
    const { runs } = JSON.parse(json.stdout) as { runs: Array<{ type: string; id: string; created_at: string }> };
    const created = runs.map((run) => Date.parse(run.created_at));
    expect(created).toEqual([...created].sort((a, b) => b - a));
    const ids = new Map(runs.map((run) => [run.id, run.type]));
    expect(ids.get(purchases.job_id)).toBe("import");
    expect(ids.get(started.reconcile as string)).toBe("reconcile");
    expect(ids.get(started.sap as string)).toBe("sync");
    expect(ids.get(started.emag as string)).toBe("sync");
    const imports = await get<{ imports: unknown[] }>("/api/imports");
    expect(runs.filter((run) => run.type === "import")).toHaveLength(imports.imports.length);

    const table = await runCli(["runs", "--limit", "2"], env);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^created \(UTC\) +type +id +status +about$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain(runs[0]?.id);
    expect(lines[2]).toContain(runs[1]?.id);
  });
});
