/**
 * `npm run demo`: the main job of dropflow on a fresh clone with nothing installed.
 * Starts the whole stack in this process on its own data directory
 * ($DROPFLOW_DATA_DIR/demo, so it never meets `npm run dev`'s), generates a seller's
 * exports (about 20 purchase files / 200,000 rows plus the marketplace's settlement
 * reports), uploads them and imports them through the HTTP API exactly as a client
 * would (Vercel Blob client uploads, then POST /api/imports), shows live progress,
 * then reconciles every purchase against its settlement (POST /api/reconcile, live
 * progress), prints the outcome table with the aging of missing settlements and the
 * margin report by store, and the summary. `--serve` keeps the server up afterwards.
 *
 *   npm run demo -- [--rows 200000] [--files 20] [--seed 7] [--serve]
 */
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { upload } from "@vercel/blob/client";
import { loadConfig } from "../lib/config.js";
import { newImportKey } from "../lib/storage/index.js";
import { generate } from "./generate/run.js";
import { embeddedEnvironment, startDevServer } from "./server.js";

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "200000" },
    files: { type: "string", default: "20" },
    seed: { type: "string", default: "7" },
    serve: { type: "boolean", default: false },
  },
});
const out = (text = "") => process.stdout.write(`${text}\n`);
const number = (n: number) => n.toLocaleString("en-US");

interface Progress {
  percent: number | null;
  rows: { total: number; done: number; failed: number };
  rate_per_s: number | null;
  eta_s: number | null;
  stalled_for_s: number | null;
}

interface ImportStatus {
  id: string;
  status: string;
  progress: Progress;
  counts: Record<string, number>;
  errors_by_code: Record<string, number>;
  files: Array<{ name: string; status: string; error: { code: string; message: string } | null }>;
}

/** The simulated upstreams' sizes: a few thousand, so eMAG's real 3 req/s takes about 10 s. */
const DEMO_OFFERS = 3_000;
const DEMO_ITEMS = 3_000;

async function main(): Promise<void> {
  const started = performance.now();
  const baseDir = loadConfig().dataDir;
  const dataDir = path.join(baseDir, "demo");
  await rm(dataDir, { recursive: true, force: true });
  const generatedDir = path.join(dataDir, "generated");

  out("dropflow demo");
  out(`  data directory: ${dataDir}`);
  const server = await startDevServer({
    env: embeddedEnvironment(dataDir),
    simulators: { offers: DEMO_OFFERS, items: DEMO_ITEMS },
  });
  const base = server.url.replace("localhost", "127.0.0.1");
  const token = server.runtime.apiTokens[0] as string;
  const headers = { authorization: `Bearer ${token}` };
  out(`  server:         ${base} (embedded Postgres, queue and object storage)`);

  out(`\n1. Generating a seller's exports (${number(Number(values.rows))} purchase rows in ${values.files} files, seed ${values.seed})`);
  const summary = await generate({
    rows: Number(values.rows),
    files: Number(values.files),
    seed: String(values.seed),
    badRate: 0.01,
    out: generatedDir,
    stores: 5,
    settlements: true,
    // Shopee hands its income reports out as workbooks: the demo imports them as they come.
    format: "xlsx",
    force: true,
  });
  const purchaseFiles = summary.files.filter((file) => file.file_type === "purchases");
  const settlementFiles = summary.files.filter((file) => file.file_type === "settlements");
  out(
    `   ${purchaseFiles.length} purchase files, ${settlementFiles.length} settlement reports, ` +
      `${number(summary.totals.rejectedRows)} deliberately bad rows; the settlement reports as .xlsx workbooks, the way Shopee hands them out`,
  );

  out("\n2. Uploading through POST /api/uploads (Vercel Blob client uploads)");
  // The Blob client SDK sends file bytes to VERCEL_BLOB_API_URL, which lib/config.ts
  // points at the embedded stand-in once the object store is first opened.
  server.runtime.objectStore();
  const uploadFile = async (name: string) => {
    const body = await readFile(path.join(generatedDir, name));
    // The client picks a fresh import key; the server signs an upload to exactly that key.
    const blob = await upload(newImportKey(path.basename(name)), body, {
      access: "private",
      handleUploadUrl: `${base}/api/uploads`,
      headers,
      contentType: name.endsWith(".xlsx") ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" : "text/csv",
      clientPayload: JSON.stringify({ name: path.basename(name) }),
    });
    return { key: blob.pathname, name: path.basename(name) };
  };
  // A few at a time, like a browser would.
  const uploadAll = async <T>(files: T[], one: (file: T) => Promise<unknown>) => {
    let next = 0;
    const lane = async () => {
      while (next < files.length) {
        const file = files[next++] as T;
        await one(file);
      }
    };
    await Promise.all(Array.from({ length: 4 }, lane));
  };
  const purchaseRefs: Array<{ key: string; name: string; position: number }> = [];
  await uploadAll(
    purchaseFiles.map((file, position) => ({ file, position })),
    async ({ file, position }) => purchaseRefs.push({ ...(await uploadFile(file.name)), position }),
  );
  purchaseRefs.sort((a, b) => a.position - b.position); // file order decides which version of an order wins
  const settlementRefs: Array<{ key: string; name: string; store: string }> = [];
  await uploadAll(settlementFiles, async (file) =>
    settlementRefs.push({ ...(await uploadFile(file.name)), store: file.store as string }),
  );
  out(`   ${purchaseRefs.length + settlementRefs.length} files uploaded`);

  const startImport = async (body: unknown) => {
    const response = await fetch(`${base}/api/imports`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (response.status !== 202) throw new Error(`POST /api/imports answered ${response.status}: ${await response.text()}`);
    return ((await response.json()) as { job_id: string }).job_id;
  };
  /** Polls a status URL until the job ends, drawing its progress bar; `unit` names what its rows are. */
  const follow = async <T extends { status: string; progress: Progress }>(statusPath: string, label: string, unit = "rows"): Promise<T> => {
    const tty = process.stdout.isTTY;
    let lastLine = 0;
    for (;;) {
      const status = (await (await fetch(`${base}${statusPath}`, { headers })).json()) as T;
      const { rows, rate_per_s, eta_s, stalled_for_s } = status.progress;
      const percent = status.progress.percent ?? 0;
      const bar = "#".repeat(Math.round(percent / 4)).padEnd(25, ".");
      const line =
        `   ${label} [${bar}] ${percent.toFixed(1).padStart(5)}%  ${number(rows.done + rows.failed)}/${number(rows.total)} ${unit}` +
        `  ${rate_per_s ? `${number(Math.round(rate_per_s))} ${unit}/s` : ""}  ` +
        (stalled_for_s !== null ? `stalled for ${stalled_for_s}s` : eta_s !== null ? `ETA ${eta_s}s` : "");
      const done = !["queued", "planning", "running"].includes(status.status);
      if (tty) process.stdout.write(`\r${line.padEnd(110)}`);
      else if (done || (rows.total > 0 && Date.now() - lastLine > 2000)) {
        out(line);
        lastLine = Date.now();
      }
      if (done) {
        if (tty) out();
        return status;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  out("\n3. Importing purchases");
  const purchases = await follow<ImportStatus>(
    `/api/imports/${await startImport({ file_type: "purchases", files: purchaseRefs.map(({ key, name }) => ({ key, name })) })}`,
    "purchases  ",
  );
  out("\n4. Importing settlements: the .xlsx workbooks as downloaded (one import per store's reports)");
  const byStore = new Map<string, typeof settlementRefs>();
  for (const ref of settlementRefs) byStore.set(ref.store, [...(byStore.get(ref.store) ?? []), ref]);
  const settlements: ImportStatus[] = [];
  for (const [store, refs] of byStore) {
    settlements.push(
      await follow<ImportStatus>(
        `/api/imports/${await startImport({ file_type: "settlements", store, files: refs.map(({ key, name }) => ({ key, name })) })}`,
        store.slice(0, 11).padEnd(11),
      ),
    );
  }

  out("\n5. Reconciling every purchase against its settlement");
  const created = await fetch(`${base}/api/reconcile`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: "{}" });
  if (created.status !== 202) throw new Error(`POST /api/reconcile answered ${created.status}: ${await created.text()}`);
  const run = await follow<ReconcileStatus>(((await created.json()) as { status_url: string }).status_url, "reconcile  ", "invoices");
  printOutcomes(run);

  out("\n6. Margin report by store (GET /api/reports/margin?group=store)");
  const margin = await fetch(`${base}/api/reports/margin?group=store`, { headers });
  if (margin.status !== 200) throw new Error(`GET /api/reports/margin answered ${margin.status}: ${await margin.text()}`);
  printMargin((await margin.json()) as MarginReport);

  out(`\n7. Syncing the catalogue from eMAG (${number(DEMO_OFFERS)} offers at its real 3 req/s) and SAP (${number(DEMO_ITEMS)} items), simulated`);
  // One after the other: here the simulators share the server's process (and its event
  // loop with the embedded database), which would blur the eMAG simulator's clock.
  for (const source of ["sap", "emag"] as const) {
    const started = await fetch(`${base}/api/sync/${source}`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({ mode: "full" }),
    });
    if (started.status !== 202) throw new Error(`POST /api/sync/${source} answered ${started.status}: ${await started.text()}`);
    printSyncRun(await followSync(base, headers, ((await started.json()) as { status_url: string }).status_url, source.padEnd(11)));
  }

  const seconds = (performance.now() - started) / 1000;
  out("\n8. Summary");
  const c = purchases.counts;
  out(`   purchases: ${purchases.status}`);
  out(
    `     rows ${number(c.rows ?? 0)}, rejected ${number(c.row_errors ?? 0)}, warnings ${number(c.warnings ?? 0)}; ` +
      `orders inserted ${number(c.orders_inserted ?? 0)}, updated ${number(c.orders_updated ?? 0)}, ` +
      `unchanged ${number(c.orders_unchanged ?? 0)}; lines ${number(c.lines ?? 0)}`,
  );
  out(`     errors by code: ${JSON.stringify(purchases.errors_by_code)}`);
  const settled = settlements.reduce((sum, s) => sum + (s.counts.settlements_inserted ?? 0), 0);
  out(`   settlements: ${settlements.map((s) => s.status).join(", ")}; ${number(settled)} settled orders`);
  const failedFiles = [...purchases.files, ...settlements.flatMap((s) => s.files)].filter((f) => f.error);
  for (const file of failedFiles) out(`     file ${file.name}: ${file.error?.code}: ${file.error?.message}`);
  out(`   expected from the generator: ${number(summary.totals.rejectedRows)} rejected rows, ${number(summary.totals.warningRows)} warnings`);
  out(`   total time: ${seconds.toFixed(1)} s`);
  out(values.serve ? "\nWhere to look next:" : "\nWhere to look next (run `npm run demo -- --serve` to keep the server up for these):");
  out(`   curl -H "authorization: Bearer ${token}" ${base}/api/imports/${purchases.id}`);
  out(`   curl -H "authorization: Bearer ${token}" "${base}/api/imports/${purchases.id}/errors?format=csv"`);
  out(`   curl -H "authorization: Bearer ${token}" "${base}/api/reconcile/${run.id}/results?outcome=amount_mismatch"`);
  out(`   curl -H "authorization: Bearer ${token}" "${base}/api/reports/margin?group=month&format=csv"`);
  out(`   curl -H "authorization: Bearer ${token}" "${base}/api/sync/runs"`);
  out(`   curl -H "authorization: Bearer ${token}" "${base}/api/catalogue?source=emag&q=phone"`);
  out(`   the generated files and their manifests: ${generatedDir}`);

  if (values.serve) {
    out(`\nServing on ${base} (operator page: ${base}/). Ctrl-C stops it.`);
    const stop = () => {
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    return;
  }
  await server.close();
  const ok = purchases.status !== "failed" && settlements.every((s) => s.status !== "failed") && run.status === "completed";
  process.exit(ok ? 0 : 1);
}

interface ReconcileStatus {
  id: string;
  status: string;
  progress: Progress;
  counts: Record<string, number>;
  amounts: Record<string, { expected: number; actual: number; diff: number }>;
  aging: Record<string, number>;
}

const rupiah = (n: number | null) => (n === null ? "" : `Rp ${number(n)}`);

function printOutcomes(run: ReconcileStatus): void {
  out(`   ${run.status}`);
  out(`   ${"outcome".padEnd(20)}${"invoices".padStart(10)}${"expected".padStart(20)}${"actual".padStart(20)}${"diff".padStart(18)}`);
  for (const [outcome, count] of Object.entries(run.counts)) {
    const amounts = run.amounts[outcome];
    out(
      `   ${outcome.padEnd(20)}${number(count).padStart(10)}${rupiah(amounts?.expected ?? 0).padStart(20)}` +
        `${rupiah(amounts?.actual ?? 0).padStart(20)}${rupiah(amounts?.diff ?? 0).padStart(18)}`,
    );
  }
  const aging = Object.entries(run.aging).map(([bucket, n]) => `${bucket} days: ${number(n)}`);
  out(`   missing settlements by days since the order: ${aging.join(", ")}`);
}

interface MarginRow {
  key: string;
  orders: number;
  gross_sales: number;
  net_payout: number;
  supplier_cost: number;
  net_margin: number;
  net_margin_pct: number | null;
  unsettled: number;
}

interface MarginReport {
  rows: MarginRow[];
  totals: Omit<MarginRow, "key">;
}

function printMargin(report: MarginReport): void {
  // Store names are kept whole: the column is as wide as the longest.
  const width = Math.max(6, ...report.rows.map((row) => row.key.length)) + 1;
  const line = (key: string, r: Omit<MarginRow, "key">) =>
    out(
      `   ${key.padEnd(width)}${number(r.orders).padStart(9)}${rupiah(r.gross_sales).padStart(19)}` +
        `${rupiah(r.net_payout).padStart(19)}${rupiah(r.supplier_cost).padStart(19)}${rupiah(r.net_margin).padStart(18)}` +
        `${(r.net_margin_pct === null ? "" : `${r.net_margin_pct.toFixed(1)} %`).padStart(9)}${rupiah(r.unsettled).padStart(17)}`,
    );
  out(
    `   ${"store".padEnd(width)}${"orders".padStart(9)}${"gross sales".padStart(19)}${"net payout".padStart(19)}` +
      `${"supplier cost".padStart(19)}${"net margin".padStart(18)}${"margin".padStart(9)}${"unsettled".padStart(17)}`,
  );
  for (const row of report.rows) line(row.key, row);
  line("total", report.totals);
}

await main();

interface SyncRunView {
  source: string;
  status: string;
  reason: string | null;
  expected: { at_start: number | null; at_end: number | null };
  seen_unique: number | null;
  items: Record<string, number>;
  pages: { read: number; failed: number };
  requests: { total: number; throttled_429: number; retries: number; logins: number; rate_per_s: number | null };
  duration_s: number;
  progress: Progress;
}

/** Polls a sync run's record until it ends, one progress line for it (its total is not known until it ends). */
async function followSync(base: string, headers: Record<string, string>, statusPath: string, label: string): Promise<SyncRunView> {
  let lastLine = 0;
  for (;;) {
    const run = (await (await fetch(`${base}${statusPath}`, { headers })).json()) as SyncRunView;
    const done = !["queued", "planning", "running"].includes(run.status);
    if (done || Date.now() - lastLine > 3000) {
      out(
        `   ${label} ${run.status.padEnd(10)} ${number(run.progress.rows.done)} items of ${run.expected.at_start === null ? "?" : number(run.expected.at_start)}` +
          `, ${run.pages.read} pages, ${run.requests.total} requests (${run.requests.rate_per_s ?? 0}/s), ${run.requests.throttled_429} throttled`,
      );
      lastLine = Date.now();
    }
    if (done) return run;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function printSyncRun(run: SyncRunView): void {
  out(`   ${run.source}: ${run.status}${run.reason ? ` (${run.reason})` : ""} in ${run.duration_s} s`);
  out(
    `     counted ${run.expected.at_start} at the start and ${run.expected.at_end} at the end, saw ${run.seen_unique} unique; ` +
      `created ${run.items.created}, updated ${run.items.updated}, unchanged ${run.items.unchanged}, retired ${run.items.retired}`,
  );
  out(
    `     ${run.requests.total} requests at ${run.requests.rate_per_s}/s, ${run.requests.throttled_429} answered 429, ` +
      `${run.requests.retries} retries, ${run.requests.logins} logins; ${run.pages.read} pages, ${run.pages.failed} failed`,
  );
}
