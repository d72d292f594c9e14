/**
 * `npm run bench:import`: the purchase import end to end in local services mode (real
 * Postgres, real Redis behind the Upstash bridge, the QStash stand-in, the Blob
 * stand-in, N worker processes), against a plain-Postgres baseline in the same run.
 *
 *   npm run bench:import -- [--rows 1000000] [--files 20] [--workers 2] [--seed 1]
 *                           [--chunk-rows 5000] [--worker-env NAME=VALUE …] [--keep]
 *
 * 1. `generate()` writes the data set (purchases only, 1 % bad rows, deterministic
 *    seed) into a temporary directory.
 * 2. startLocalServices() starts every server from a bare environment; the idle RSS
 *    of each process is read right after start (the second baseline, for memory).
 * 3. Upload, as a client does: every file with the real `upload()` of
 *    @vercel/blob/client (a client token from POST /api/uploads, the bytes straight
 *    to the Blob stand-in, the signed upload-completed callback recorded in
 *    `uploads`). Timed on its own, until every upload is recorded.
 * 4. The import: POST /api/imports with every file in name order, then GET
 *    /api/imports/:id until it ends. Timed from the POST to the end; it must end
 *    `completed` or `completed_with_errors` with counts.rows = the generator's rows.
 * 5. The baseline, on the same Postgres server in a database of its own migrated
 *    with our migrations: COPY of the same files into a staging table, then
 *    set-based SQL into the same tables (bench/import-baseline.sql says what it does
 *    and does not do compared with the import). Afterwards both databases are
 *    compared: order and line counts, and an md5 over every stored purchase.
 * The ratio is import seconds / baseline seconds (target: within 3x); worker peak
 * RSS target: under 256 MB. The last line is one JSON object (bench/README.md,
 * "The last line").
 */
import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { upload } from "@vercel/blob/client";
import pg from "pg";
import { generate } from "../dev/generate/run.js";
import { type LocalServices, peakRssMb } from "../dev/services.js";
import { applyBlobSdkSettings } from "../lib/config.js";
import { openDatabase } from "../lib/db/client.js";
import { migrateDatabase } from "../lib/db/migrate.js";
import { newImportKey } from "../lib/storage/index.js";
import { copyFile, type FilterCounts } from "./baseline-copy.js";
import { out, round, rssMb, seconds, sleep, startBenchServices, thousands } from "./report.js";
import { parseWorkerEnv } from "./worker-env.js";

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    files: { type: "string", default: "20" },
    workers: { type: "string", default: "2" },
    seed: { type: "string", default: "1" },
    "chunk-rows": { type: "string", default: "5000" },
    /** Extra worker environment, NAME=VALUE, repeatable (e.g. `NODE_OPTIONS=` runs the workers without their heap budget, to see what is garbage). */
    "worker-env": { type: "string", multiple: true, default: [] },
    keep: { type: "boolean", default: false },
  },
});
const rowsWanted = Number(values.rows);
const filesWanted = Number(values.files);
const workers = Math.max(2, Number(values.workers));
const CHUNK_ROWS = Math.max(1, Number(values["chunk-rows"]));
const UPLOAD_CONCURRENCY = 4;
const MULTIPART_ABOVE = 64 * 1024 * 1024;
const IMPORT_TIMEOUT_MS = 20 * 60_000;
const BASELINE_SQL = fileURLToPath(new URL("./import-baseline.sql", import.meta.url));
const COPY_MARKER = /^-- ==== COPY .*$/m;
const RSS_TARGET_MB = 256;
const workerEnv = parseWorkerEnv(values["worker-env"]);
const RATIO_TARGET = 3;


interface ImportView {
  status: string;
  last_error: string | null;
  progress: { percent: number };
  counts: Record<string, number>;
  errors_by_code: Record<string, number>;
  files: Array<{ name: string; status: string; error: { code: string; message: string } | null }>;
}

/** The statements of a SQL script (no `;` at a line's end inside a literal), each with a short label. */
function statementsOf(script: string): Array<{ sql: string; label: string }> {
  return script
    .split(/;[ \t]*$/m)
    .map((text) => text.trim())
    .filter((text) => text.replace(/^--.*$/gm, "").trim() !== "")
    .map((text) => {
      const code = text.replace(/^--.*$/gm, "").trim();
      const match = /^(create temp table|create table|insert into|delete from|analyze|drop table|update)\s+(\w+)/i.exec(code);
      return { sql: text, label: match ? `${match[1]} ${match[2]}` : (code.split(/\s+/).slice(0, 3).join(" ") ?? code) };
    });
}

interface Written {
  orders: number;
  lines: number;
  stores: number;
  /** md5 over every purchase's content (store by name), in order-code order: equal means the same orders landed. */
  purchases_md5: string;
}

async function writtenIn(url: string): Promise<Written> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("set timezone = 'UTC'");
    const { rows } = await client.query<Written>(
      `select (select count(*)::int from purchases) as orders, (select count(*)::int from purchase_lines) as lines,
              (select count(*)::int from stores) as stores,
              (select md5(string_agg(concat_ws('|', p.order_code, p.transaction_code, s.name, p.channel, p.invoice,
                        p.ordered_at, p.status, p.other_fee, p.partner_fee, p.order_total, p.created_by, p.warehouse,
                        p.courier, p.cashless, p.waybill, p.shipped_at, p.province, p.city), e'\\n' order by p.order_code))
                 from purchases p join stores s on s.id = p.store_id) as purchases_md5`,
    );
    return rows[0] as Written;
  } finally {
    await client.end();
  }
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), "dropflow-bench-import-"));
let lastLines: () => string[] = () => [];
let services: LocalServices | undefined;
let releaseBlobSdk: (() => void) | undefined;
try {
  // 1. The data set.
  let started = performance.now();
  const summary = await generate({
    rows: rowsWanted,
    files: filesWanted,
    seed: values.seed,
    badRate: 0.01,
    out: dataDir,
    stores: 5,
    settlements: false,
    force: false,
  });
  const purchaseFiles = summary.files
    .filter((file) => file.file_type === "purchases")
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((file) => ({ ...file, path: path.join(dataDir, file.name), base: path.basename(file.name) }));
  const rows = summary.totals.rows;
  const totalBytes = purchaseFiles.reduce((sum, file) => sum + file.bytes, 0);
  const mb = totalBytes / 1024 / 1024;
  out(
    `generated ${thousands(rows)} rows in ${purchaseFiles.length} files (${mb.toFixed(0)} MB, ` +
      `largest ${(Math.max(...purchaseFiles.map((f) => f.bytes)) / 1024 / 1024).toFixed(1)} MB; ` +
      `${thousands(summary.totals.rejectedRows)} bad rows, ${thousands(summary.totals.orders)} orders) in ${seconds(started).toFixed(1)} s`,
  );

  // 2. Every server, from a bare environment.
  started = performance.now();
  const bench = await startBenchServices(workers, { DROPFLOW_CHUNK_ROWS: String(CHUNK_ROWS), ...workerEnv });
  services = bench.services;
  lastLines = bench.lastLines;
  const running = services;
  await sleep(1000); // let start-up settle before the idle reading
  const processes = [...bench.processes];
  const idle = new Map(processes.map((p) => [p.name, { rss: rssMb(p.pid), peak: peakRssMb(p.pid) }]));
  out(`local services up in ${seconds(started).toFixed(1)} s: ${workers} workers, pids ${running.pids.workers.join(", ")}`);

  const headers = { authorization: `Bearer ${running.apiToken}` };
  const api = async <T>(route: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${running.baseUrl}${route}`, {
      ...init,
      headers: { ...headers, "content-type": "application/json", ...init.headers },
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
  };

  // 3. Upload every file as a client would: @vercel/blob/client upload() via POST /api/uploads.
  const blobApiUrl = running.env.VERCEL_BLOB_API_URL;
  if (!blobApiUrl) throw new Error("local services exposed no VERCEL_BLOB_API_URL");
  releaseBlobSdk = applyBlobSdkSettings(blobApiUrl);
  started = performance.now();
  const keys = purchaseFiles.map((file) => newImportKey(file.base));
  let next = 0;
  const uploader = async () => {
    while (next < purchaseFiles.length) {
      const index = next++;
      const file = purchaseFiles[index] as (typeof purchaseFiles)[number];
      await upload(keys[index] as string, await readFile(file.path), {
        access: "private",
        handleUploadUrl: `${running.baseUrl}/api/uploads`,
        headers,
        contentType: "text/csv",
        clientPayload: JSON.stringify({ name: file.base }),
        multipart: file.bytes > MULTIPART_ABOVE,
      });
    }
  };
  await Promise.all(Array.from({ length: UPLOAD_CONCURRENCY }, uploader));
  // Done when Blob's signed upload-completed callbacks have recorded every file.
  const db = new pg.Client({ connectionString: running.databaseUrl });
  await db.connect();
  try {
    for (const until = Date.now() + 60_000; ; ) {
      const { rows: recorded } = await db.query<{ n: number }>("select count(*)::int as n from uploads where key = any($1)", [keys]);
      if (recorded[0]?.n === keys.length) break;
      if (Date.now() > until) throw new Error(`only ${recorded[0]?.n} of ${keys.length} uploads were recorded`);
      await sleep(50);
    }
  } finally {
    await db.end();
  }
  const uploadSeconds = seconds(started);
  out(`uploaded ${purchaseFiles.length} files in ${uploadSeconds.toFixed(1)} s (${(mb / uploadSeconds).toFixed(0)} MB/s)`);

  // 4. The import, from the POST to its end.
  started = performance.now();
  const created = await api<{ job_id: string }>("/api/imports", {
    method: "POST",
    body: JSON.stringify({
      file_type: "purchases",
      files: purchaseFiles.map((file, i) => ({ key: keys[i], name: file.base })),
    }),
  });
  if (created.status !== 202) throw new Error(`POST /api/imports answered ${created.status}: ${JSON.stringify(created.body)}`);
  const jobId = created.body.job_id;
  let view: ImportView;
  let lastReport = performance.now();
  // Where the peak comes from: the largest RSS sampled (every ~200 ms) while the job was
  // planning (one worker reads every file once) and while it ran chunks, and the peak
  // (VmHWM) at the first poll that saw it running (chunks may have started by then).
  const maxRss = { planning: new Map<string, number>(), running: new Map<string, number>() };
  let phase: "planning" | "running" = "planning";
  const planningPeak = new Map<string, number | null>();
  for (const until = Date.now() + IMPORT_TIMEOUT_MS; ; ) {
    await sleep(200);
    for (const p of processes) maxRss[phase].set(p.name, Math.max(maxRss[phase].get(p.name) ?? 0, rssMb(p.pid) ?? 0));
    const polled = await api<ImportView>(`/api/imports/${jobId}`);
    if (polled.status !== 200) throw new Error(`GET /api/imports/${jobId} answered ${polled.status}: ${JSON.stringify(polled.body)}`);
    view = polled.body;
    if (phase === "planning" && view.status !== "queued" && view.status !== "planning") {
      phase = "running";
      for (const p of processes) planningPeak.set(p.name, peakRssMb(p.pid));
    }
    if (!["queued", "planning", "running"].includes(view.status)) break;
    if (Date.now() > until) throw new Error(`the import is still ${view.status} after ${IMPORT_TIMEOUT_MS / 60_000} minutes`);
    if (performance.now() - lastReport > 15_000) {
      lastReport = performance.now();
      const now = processes.filter((p) => p.name.startsWith("worker")).map((p) => `${p.name} ${rssMb(p.pid)} MB`);
      out(`  ${seconds(started).toFixed(0)} s: ${view.status} ${view.progress.percent}%, ${thousands(view.counts.rows ?? 0)} rows; RSS ${now.join(", ")}`);
    }
  }
  const importSeconds = seconds(started);
  const ended = view.status;
  const okStatus = ended === "completed" || ended === "completed_with_errors";
  out(`import ${jobId} ended ${ended} in ${importSeconds.toFixed(1)} s: ${JSON.stringify(view.counts)}`);
  if (!okStatus || view.counts.rows !== rows) {
    out(`last_error: ${view.last_error}; files: ${JSON.stringify(view.files.filter((f) => f.error))}`);
    throw new Error(`the import ended ${ended} with counts.rows ${view.counts.rows}; expected ${rows} rows, completed(_with_errors)`);
  }
  const importCounts = await writtenIn(running.databaseUrl);

  // 5. The baseline: same server, its own database, our migrations, COPY + set-based SQL.
  const baselineUrl = new URL(running.databaseUrl);
  baselineUrl.pathname = "/bench_baseline";
  const adminUrl = new URL(running.databaseUrl);
  adminUrl.pathname = "/postgres";
  const admin = new pg.Client({ connectionString: adminUrl.href });
  await admin.connect();
  await admin.query("create database bench_baseline");
  await admin.end();
  const handle = await openDatabase({ driver: "pg", url: baselineUrl.href }, { maxConnections: 1 });
  try {
    await migrateDatabase(handle);
  } finally {
    await handle.close();
  }
  const [prepareSql, transformSql] = (await readFile(BASELINE_SQL, "utf8")).split(COPY_MARKER);
  if (!prepareSql || !transformSql) throw new Error(`${BASELINE_SQL} has no COPY marker line`);
  const baseline = new pg.Client({ connectionString: baselineUrl.href });
  await baseline.connect();
  const filtered: FilterCounts = { kept: 0, dropped: 0, blank: 0 };
  const sqlSteps: Array<{ label: string; seconds: number }> = [];
  let copySeconds: number;
  let sqlSeconds: number;
  const baselineStarted = performance.now();
  try {
    await baseline.query(prepareSql);
    for (const file of purchaseFiles) {
      const counts = await copyFile(baseline, file.path);
      filtered.kept += counts.kept;
      filtered.dropped += counts.dropped;
      filtered.blank += counts.blank;
    }
    copySeconds = seconds(baselineStarted);
    // Statement by statement (the same session, the same transaction), to show where the time goes.
    const sqlStarted = performance.now();
    for (const statement of statementsOf(transformSql)) {
      const statementStarted = performance.now();
      await baseline.query(statement.sql);
      const took = seconds(statementStarted);
      if (took >= 0.05) sqlSteps.push({ label: statement.label, seconds: round(took) });
    }
    sqlSeconds = seconds(sqlStarted);
  } finally {
    await baseline.end();
  }
  const baselineSeconds = seconds(baselineStarted);
  const baselineCounts = await writtenIn(baselineUrl.href);
  out(
    `baseline in ${baselineSeconds.toFixed(1)} s (COPY ${copySeconds.toFixed(1)} s, SQL ${sqlSeconds.toFixed(1)} s); ` +
      `${thousands(filtered.dropped)} records dropped before COPY, ${thousands(filtered.blank)} blank lines`,
  );

  // Memory, after everything ran.
  const current = running.workerPids();
  const replaced = current.filter((pid) => !running.pids.workers.includes(pid));
  for (const [i, pid] of replaced.entries()) processes.push({ name: `worker-replacement-${i + 1}`, pid });
  const peak: Record<string, number | null> = {};
  const idleRss: Record<string, number | null> = {};
  for (const p of processes) {
    peak[p.name] = peakRssMb(p.pid);
    idleRss[p.name] = idle.get(p.name)?.rss ?? null;
  }
  const workerPeaks = processes.filter((p) => p.name.startsWith("worker")).map((p) => peak[p.name] ?? 0);
  const workerPeak = Math.max(...workerPeaks);
  const ratio = importSeconds / baselineSeconds;

  const figures = {
    bench: "import",
    rows,
    files: purchaseFiles.length,
    mb: round(mb, 1),
    workers,
    chunk_rows: CHUNK_ROWS,
    ...(Object.keys(workerEnv).length > 0 ? { worker_env: workerEnv } : {}),
    status: ended,
    seconds: round(importSeconds),
    rows_per_s: Math.round(rows / importSeconds),
    baseline_seconds: round(baselineSeconds),
    baseline_rows_per_s: Math.round(rows / baselineSeconds),
    baseline_copy_seconds: round(copySeconds),
    baseline_sql_seconds: round(sqlSeconds),
    baseline_sql_steps: Object.fromEntries(sqlSteps.map((step) => [step.label, step.seconds])),
    ratio: round(ratio),
    upload_seconds: round(uploadSeconds),
    upload: "@vercel/blob/client upload() via POST /api/uploads",
    counts: view.counts,
    generator: { rows, rejected_rows: summary.totals.rejectedRows, orders: summary.totals.orders, landed_lines: summary.totals.landedLines },
    written: { import: importCounts, baseline: baselineCounts },
    baseline_dropped_before_copy: filtered.dropped,
    peak_rss_mb: peak,
    peak_rss_mb_when_running_seen: Object.fromEntries(planningPeak),
    idle_rss_mb: idleRss,
    workers_replaced: replaced.length,
    targets: { ratio_within_3x: ratio <= RATIO_TARGET, worker_peak_rss_under_256mb: workerPeak < RSS_TARGET_MB },
  };

  out();
  out(`| ${thousands(rows)} rows, ${purchaseFiles.length} files (${mb.toFixed(0)} MB), ${workers} workers, chunks of ${CHUNK_ROWS} rows | seconds | rows/s |`);
  out("|---|---|---|");
  out(`| import: POST /api/imports until \`${ended}\` (plan, queue, ${workers} workers, Redis, Blob reads, Postgres) | ${figures.seconds} | ${thousands(figures.rows_per_s)} |`);
  out(`| baseline: COPY into staging + set-based SQL into the same tables, one session | ${figures.baseline_seconds} | ${thousands(figures.baseline_rows_per_s)} |`);
  out(`| … of which COPY (${thousands(filtered.kept)} records; ${thousands(filtered.dropped)} unparseable dropped) | ${figures.baseline_copy_seconds} | ${thousands(rows / copySeconds)} |`);
  out(`| … of which SQL (dedupe, convert, upsert purchases, replace lines) | ${figures.baseline_sql_seconds} | ${thousands(rows / sqlSeconds)} |`);
  out(`| upload (not in either figure): ${purchaseFiles.length} files with @vercel/blob/client upload(), ${UPLOAD_CONCURRENCY} at a time | ${figures.upload_seconds} | ${(mb / uploadSeconds).toFixed(0)} MB/s |`);
  out();
  out(`baseline SQL by statement (s): ${sqlSteps.map((step) => `${step.label} ${step.seconds}`).join(", ")}`);
  out(
    `ratio (import / baseline): ${figures.ratio}x — target within ${RATIO_TARGET}x: ${figures.targets.ratio_within_3x ? "met" : "NOT met"}`,
  );
  out(
    `written: import ${thousands(importCounts.orders)} orders / ${thousands(importCounts.lines)} lines, ` +
      `baseline ${thousands(baselineCounts.orders)} / ${thousands(baselineCounts.lines)}, ` +
      `generator ${thousands(summary.totals.orders)} / ${thousands(summary.totals.landedLines)}; ` +
      `purchases ${importCounts.purchases_md5 === baselineCounts.purchases_md5 ? "identical" : "DIFFER"} (md5 of every order's fields); ` +
      `row errors ${thousands(view.counts.row_errors ?? 0)} (generator: ${thousands(summary.totals.rejectedRows)} bad rows)`,
  );
  out();
  out("| process | pid | idle RSS right after start (MB) | peak RSS when first seen running (MB) | peak RSS (MB) | largest RSS sampled while planning / running chunks (MB) |");
  out("|---|---|---|---|---|---|");
  for (const p of processes) {
    const idleFigures = idle.get(p.name);
    out(`| ${p.name} | ${p.pid} | ${idleFigures?.rss ?? "–"} (peak so far ${idleFigures?.peak ?? "–"}) | ${planningPeak.get(p.name) ?? "–"} | ${peak[p.name] ?? "gone"} | ${maxRss.planning.get(p.name) ?? "–"} / ${maxRss.running.get(p.name) ?? "–"} |`);
  }
  out(
    `worker peak RSS ${workerPeak} MB — target under ${RSS_TARGET_MB} MB: ${figures.targets.worker_peak_rss_under_256mb ? "met" : "NOT met"}` +
      (replaced.length > 0 ? `; ${replaced.length} worker(s) died and were replaced during the run` : ""),
  );
  out(JSON.stringify(figures));
} catch (error) {
  process.stderr.write(`bench:import failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  if (lastLines().length > 0) process.stderr.write(`last lines of the services:\n${lastLines().join("\n")}\n`);
  process.exitCode = 1;
} finally {
  releaseBlobSdk?.();
  await services?.stop();
  if (values.keep) out(`data set kept in ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}
