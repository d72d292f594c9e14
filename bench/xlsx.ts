/**
 * `npm run bench:xlsx`: a ~100 MB Shopee income workbook (.xlsx) imported end to end in
 * local services mode, against the same report as CSV imported the same way in the same
 * run. The figure it exists for: the peak RSS of every worker (the planner, which
 * converts the workbook's sheet to CSV, runs on one of them) against the import's
 * 256 MB bar.
 *
 *   npm run bench:xlsx -- [--mb 100] [--workers 2] [--chunk-rows 5000] [--seed 1]
 *                         [--worker-env NAME=VALUE …] [--keep]
 *
 * 1. The data: one synthetic settlement report ("Laporan Penghasilan"), seeded, with N
 *    order rows in the 39 columns of SETTLEMENT_HEADERS, its values shaped like the
 *    shared fixture shopee-income-2025-05.csv (order numbers unique, buyer usernames
 *    nearly so, dates as text, whole-rupiah amounts, mostly zero columns, a few
 *    couriers, payment methods and voucher codes). N is scaled from a 20,000-row sample
 *    workbook so that the workbook is about --mb MB. The workbook is written with
 *    writeSettlementWorkbook (shared strings, as Excel writes them; five sheets, Income
 *    second) and the same report as CSV with writeSettlementCsv.
 * 2. Two imports, each on a fresh set of local services (so each process's peak RSS
 *    belongs to one import): the CSV first (the baseline), then the workbook. Each:
 *    a store created by SQL, the file uploaded with @vercel/blob/client `upload()` via
 *    POST /api/uploads (multipart above 64 MB), POST /api/imports { file_type:
 *    "settlements", store, files }, GET /api/imports/:id until it ends. Timed from the
 *    POST to the end; it must end `completed` with counts.rows = N and no row errors.
 *    Peak RSS (VmHWM) of every process is read after the end; idle RSS right after start.
 * 3. Both databases must hold the same settlements: an md5 over every stored row's
 *    content (order number order), else the benchmark exits non-zero.
 * The last line is one JSON object (bench/README.md, "The last line"). A workbook whose
 * conversion outlasts the planner's time budget (DROPFLOW_MAX_DURATION_S) is planned
 * again from the start, over and over: bench/README.md says when to pass
 * `--worker-env DROPFLOW_MAX_DURATION_S=900`.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { upload } from "@vercel/blob/client";
import pg from "pg";
import { NET_COLUMNS, NUMERIC_COLUMNS, SETTLEMENT_WIDTH, type SettlementSource, writeSettlementCsv, writeSettlementWorkbook } from "../dev/generate/settlement-workbook.js";
import { Rng, Weighted } from "../dev/generate/rng.js";
import { PAYMENT } from "../dev/generate/settlements.js";
import { type LocalServices, peakRssMb } from "../dev/services.js";
import { applyBlobSdkSettings } from "../lib/config.js";
import { openWorkbook } from "../lib/imports/xlsx/workbook.js";
import { newImportKey } from "../lib/storage/index.js";
import { out, round, rssMb, seconds, sleep, startBenchServices, thousands } from "./report.js";
import { parseWorkerEnv } from "./worker-env.js";

const { values } = parseArgs({
  options: {
    mb: { type: "string", default: "100" },
    workers: { type: "string", default: "2" },
    seed: { type: "string", default: "1" },
    "chunk-rows": { type: "string", default: "5000" },
    /** Extra worker environment, NAME=VALUE, repeatable (e.g. `NODE_OPTIONS=` runs the workers without their heap budget). */
    "worker-env": { type: "string", multiple: true, default: [] },
    keep: { type: "boolean", default: false },
  },
});
const mbWanted = Number(values.mb);
if (!(mbWanted > 0)) throw new Error(`--mb takes a positive number of MB, got "${values.mb}"`);
const workers = Math.max(2, Number(values.workers));
const CHUNK_ROWS = Math.max(1, Number(values["chunk-rows"]));
const SEED = values.seed;
const workerEnv = parseWorkerEnv(values["worker-env"]);
const MB = 1024 * 1024;
const SAMPLE_ROWS = 20_000;
/** Excel's last row, less the report's six lines before the orders. */
const MAX_ORDER_ROWS = 1_048_576 - 6;
const MULTIPART_ABOVE = 64 * MB;
const IMPORT_TIMEOUT_MS = 20 * 60_000;
const RSS_TARGET_MB = 256;
const XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const STORE = "Bench Shopee";
/** The planner's time budget in the workers (lib/config.ts's default unless --worker-env sets it). */
const PLAN_BUDGET_S = Number(workerEnv.DROPFLOW_MAX_DURATION_S ?? 300);

// --- The data: a settlement report, row by row from a seed --------------------------

const COURIER = new Weighted(
  [
    ["Reguler", "SPX Standard"],
    ["Hemat", "SPX Hemat"],
    ["Reguler", "SiCepat REG"],
    ["Instant", "GoSend Instant"],
    ["Hemat", "SiCepat Halu"],
    ["Reguler", "JNE Reguler"],
    ["Same Day", "GrabExpress Sameday"],
    ["Instant", "GrabExpress Instant"],
    ["Next Day", "Sicepat BEST"],
    ["Same Day", "GoSend Same Day"],
  ],
  [299, 105, 87, 45, 36, 23, 18, 12, 6, 8],
);
const PAYOUT_LAG = new Weighted([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15], [46, 110, 122, 158, 112, 93, 23, 24, 6, 1, 3, 1]);
const SHIPPING = [9000, 9000, 9000, 12000, 14000, 16000, 17000, 20000, 28000];
/** A seller's store vouchers: the fixture shows a handful of codes, each used by many orders. */
const VOUCHERS = ["MRES24WW6", "MRESQXLCQ", "MRESF738B", "MRESK2P9D", "MRES7HT3M", "MRESZ8N4A", "MRESB5R1Q", "MRESW0J6E"];
const NAME_PARTS = [
  "rina", "budi", "sari", "andi", "dewi", "agus", "putri", "yoga", "nadia", "fajar", "lydia", "bayu", "tika", "rizky",
  "mardani", "nada", "ruang", "kita", "coffee", "abdul", "haris", "naldy", "akhady", "astri", "gitro", "keysha",
  "icha", "dilah", "ochi", "efendy", "store", "jakarta", "ukhti", "fyna", "ervin", "milan", "autumn", "paris",
  "nindira", "maya", "suri", "tien", "ahmad", "susanto", "nurrokhman", "ardian", "fahrur", "kue", "aida", "widya",
  "robby", "eka", "handmade", "eddell", "siti", "wahyu", "indah", "dimas", "ayu", "rahma", "hendra", "lestari",
] as const;
/** Crockford's base 32, as Shopee's order numbers look (digits and capitals). */
const BASE32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const FIRST_DAY = Date.UTC(2025, 4, 1); // 2025-05-01
const ORDER_DAYS = 31;
const DAY_MS = 86_400_000;

const isoDay = (day: number) => new Date(FIRST_DAY + day * DAY_MS).toISOString().slice(0, 10);

/** A bijection on 40-bit integers (a 4-round Feistel network on 20-bit halves): unique indexes give unique order numbers. */
function scramble40(index: number): number {
  let left = Math.floor(index / 0x100000) & 0xfffff;
  let right = index & 0xfffff;
  for (let round = 0; round < 4; round++) {
    const mixed = Math.imul(right ^ (0x9e3779b9 + round * 0x7f4a7c15), 0x85ebca6b) >>> 0;
    [left, right] = [right, (left ^ (mixed >>> 12)) & 0xfffff];
  }
  return left * 0x100000 + right;
}

/** "250501" + eight base-32 characters, e.g. 250501NC54T6AH. */
function orderSn(day: string, index: number): string {
  let code = scramble40(index);
  let suffix = "";
  for (let i = 0; i < 8; i++) {
    suffix = BASE32[code % 32] + suffix;
    code = Math.floor(code / 32);
  }
  return `${day.slice(2, 4)}${day.slice(5, 7)}${day.slice(8, 10)}${suffix}`;
}

/** Nearly unique, as in the fixture (9 repeats in 705 rows): two name parts, mostly with digits. */
function buyerName(rng: Rng): string {
  let name = `${rng.pick(NAME_PARTS)}${rng.pick(["", "", "_", "."])}${rng.pick(NAME_PARTS)}`;
  const digits = rng.int(20);
  if (digits < 3) name += String(rng.int(100));
  else if (digits < 7) name += String(rng.between(1975, 2006));
  else if (digits < 19) name += String(rng.int(10_000));
  return name;
}

/** One order row of the report, fields in SETTLEMENT_HEADERS order ("No." first). */
function orderRow(rng: Rng, no: number, index: number, count: number): string[] {
  const orderDay = Math.floor((index * ORDER_DAYS) / count);
  const payoutDay = orderDay + PAYOUT_LAG.sample(rng);
  const v = new Array<number>(SETTLEMENT_WIDTH).fill(0);
  const harga = Math.round(Math.exp(rng.uniform(Math.log(8_000), Math.log(450_000))) / 100) * 100;
  v[7] = harga;
  v[8] = rng.chance(0.14) ? -Math.round((harga * rng.uniform(0.03, 0.1)) / 100) * 100 : 0;
  let voucher = "";
  if (rng.chance(0.3)) {
    v[11] = -Math.min(rng.pick([1000, 1000, 1500, 2000, 5000, 10000]), Math.floor(harga / 500) * 100);
    voucher = rng.pick(VOUCHERS);
  }
  const base = harga + (v[8] as number) + (v[11] as number);
  const shipping = rng.pick(SHIPPING);
  const buyerPays = rng.chance(0.25) ? Math.min(shipping, rng.pick([2000, 4400, 9000, 13000])) : 0;
  v[13] = buyerPays;
  v[15] = shipping - buyerPays;
  v[16] = -shipping;
  if (rng.chance(0.02)) {
    // A return: a full refund carries no fees, a partial one keeps them on what was kept.
    if (rng.chance(0.7)) v[9] = -base;
    else {
      v[9] = -Math.round((base * rng.uniform(0.3, 0.8)) / 100) * 100;
      v[20] = -Math.round(base * 0.08);
      v[21] = -Math.round(base * 0.05);
    }
  } else {
    v[19] = rng.chance(0.065) ? -Math.round(base * rng.pick([0.03, 0.05, 0.07, 0.1])) : 0;
    v[20] = -Math.round(base * 0.08);
    v[21] = -Math.round(base * 0.05);
  }
  v[30] = rng.chance(0.003) ? -2000 : 0;
  v[27] = NET_COLUMNS.reduce((sum, c) => sum + (v[c] as number), 0);
  const [service, courier] = COURIER.sample(rng);
  const ordered = isoDay(orderDay);
  const fields = v.map((n) => String(n === 0 ? 0 : n));
  fields[0] = String(no);
  fields[1] = orderSn(ordered, index);
  fields[2] = "";
  fields[3] = buyerName(rng);
  fields[4] = ordered;
  fields[5] = PAYMENT.sample(rng);
  fields[6] = isoDay(payoutDay);
  fields[28] = voucher;
  fields[31] = service as string;
  fields[32] = courier as string;
  fields[33] = "";
  return fields;
}

/** The report's rows from the seed: every call of rows() yields the same rows again. */
function reportSource(count: number, seed: string): SettlementSource {
  const rows = function* (): Generator<string[]> {
    const rng = new Rng(seed, "bench-xlsx");
    let no = 1 + rng.int(100);
    for (let i = 0; i < count; i++) {
      yield orderRow(rng, no, i, count);
      no += 1 + (rng.chance(0.3) ? rng.int(40) : 0);
    }
  };
  const sums = new Float64Array(SETTLEMENT_WIDTH);
  const summed = NUMERIC_COLUMNS.filter((c) => c > 0);
  let lastPayout = "";
  for (const fields of rows()) {
    for (const c of summed) sums[c] = (sums[c] as number) + Number(fields[c]);
    if ((fields[6] as string) > lastPayout) lastPayout = fields[6] as string;
  }
  return { username: "mrest0re", from: isoDay(1), to: lastPayout || isoDay(1), count, sums, rows };
}

// --- One import on a fresh set of services -------------------------------------------

interface ImportView {
  status: string;
  last_error: string | null;
  progress: { percent: number };
  counts: Record<string, number>;
  errors_by_code: Record<string, number>;
  files: Array<{ name: string; status: string; sheet: string | null; error: { code: string; message: string } | null }>;
}

interface RunResult {
  label: string;
  status: string;
  seconds: number;
  planningSeconds: number | null;
  uploadSeconds: number;
  counts: Record<string, number>;
  sheet: string | null;
  stored: { rows: number; md5: string };
  processes: Array<{ name: string; pid: number }>;
  idle: Map<string, number | null>;
  peak: Record<string, number | null>;
  peakWhenRunningSeen: Map<string, number | null>;
  maxSampled: { planning: Map<string, number>; running: Map<string, number> };
  workerPeak: number;
  replaced: number;
}

/** Every stored settlement's content, store and rank aside, in order-number order. */
async function storedSettlements(url: string): Promise<{ rows: number; md5: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("set timezone = 'UTC'");
    const { rows } = await client.query<{ rows: number; md5: string | null }>(
      `select count(*)::int as rows,
              md5(string_agg(concat_ws('|', order_sn, ordered_on, payout_date, gross_product_price, product_discount,
                buyer_refund, seller_voucher, ams_commission, admin_fee, service_fee, program_fee, campaign_fee,
                buyer_shipping_fee, shopee_shipping_subsidy, shipping_forwarded, seller_shipping_promo, net_payout,
                shipping_service, courier_name, content_hash), e'\\n' order by order_sn)) as md5
         from settlements`,
    );
    return { rows: rows[0]?.rows ?? 0, md5: rows[0]?.md5 ?? "" };
  } finally {
    await client.end();
  }
}

let lastLines: () => string[] = () => [];

async function runImport(label: string, file: { path: string; name: string; bytes: number; contentType: string }, rows: number): Promise<RunResult> {
  let started = performance.now();
  const bench = await startBenchServices(workers, { DROPFLOW_CHUNK_ROWS: String(CHUNK_ROWS), ...workerEnv });
  const services: LocalServices = bench.services;
  lastLines = bench.lastLines;
  let releaseBlobSdk: (() => void) | undefined;
  try {
    await sleep(1000); // let start-up settle before the idle reading
    const processes = [...bench.processes];
    const idle = new Map(processes.map((p) => [p.name, rssMb(p.pid)]));
    out(`${label}: local services up in ${seconds(started).toFixed(1)} s: ${workers} workers, pids ${services.pids.workers.join(", ")}`);

    const headers = { authorization: `Bearer ${services.apiToken}` };
    const api = async <T>(route: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
      const response = await fetch(`${services.baseUrl}${route}`, {
        ...init,
        headers: { ...headers, "content-type": "application/json", ...init.headers },
      });
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
    };

    const db = new pg.Client({ connectionString: services.databaseUrl });
    await db.connect();
    let uploadSeconds: number;
    const key = newImportKey(file.name);
    try {
      await db.query("insert into stores (name, channel) values ($1, 'Shopee')", [STORE]);

      // The upload, as a client does it: @vercel/blob/client upload() via POST /api/uploads.
      const blobApiUrl = services.env.VERCEL_BLOB_API_URL;
      if (!blobApiUrl) throw new Error("local services exposed no VERCEL_BLOB_API_URL");
      releaseBlobSdk = applyBlobSdkSettings(blobApiUrl);
      started = performance.now();
      await upload(key, await readFile(file.path), {
        access: "private",
        handleUploadUrl: `${services.baseUrl}/api/uploads`,
        headers,
        contentType: file.contentType,
        clientPayload: JSON.stringify({ name: file.name }),
        multipart: file.bytes > MULTIPART_ABOVE,
      });
      // Done when Blob's signed upload-completed callback has recorded it.
      for (const until = Date.now() + 120_000; ; ) {
        const { rows: recorded } = await db.query<{ n: number }>("select count(*)::int as n from uploads where key = $1", [key]);
        if (recorded[0]?.n === 1) break;
        if (Date.now() > until) throw new Error(`the upload of ${file.name} was not recorded`);
        await sleep(50);
      }
      uploadSeconds = seconds(started);
    } finally {
      await db.end();
    }
    out(`${label}: uploaded ${(file.bytes / MB).toFixed(1)} MB in ${uploadSeconds.toFixed(1)} s`);

    // The import, from the POST to its end.
    started = performance.now();
    const created = await api<{ job_id: string }>("/api/imports", {
      method: "POST",
      body: JSON.stringify({ file_type: "settlements", store: STORE, files: [{ key, name: file.name }] }),
    });
    if (created.status !== 202) throw new Error(`POST /api/imports answered ${created.status}: ${JSON.stringify(created.body)}`);
    const jobId = created.body.job_id;
    // Where the peak comes from: the largest RSS sampled (every ~200 ms) while the job was
    // planning (one worker reads and converts the file) and while it ran chunks, and the
    // peak (VmHWM) at the first poll that saw it running (chunks may have started by then).
    const maxSampled = { planning: new Map<string, number>(), running: new Map<string, number>() };
    let phase: "planning" | "running" = "planning";
    let planningSeconds: number | null = null;
    const peakWhenRunningSeen = new Map<string, number | null>();
    let view: ImportView;
    let lastReport = performance.now();
    let overBudget = false;
    for (const until = Date.now() + IMPORT_TIMEOUT_MS; ; ) {
      await sleep(200);
      for (const p of processes) maxSampled[phase].set(p.name, Math.max(maxSampled[phase].get(p.name) ?? 0, rssMb(p.pid) ?? 0));
      const polled = await api<ImportView>(`/api/imports/${jobId}`);
      if (polled.status !== 200) throw new Error(`GET /api/imports/${jobId} answered ${polled.status}: ${JSON.stringify(polled.body)}`);
      view = polled.body;
      if (phase === "planning" && view.status !== "queued" && view.status !== "planning") {
        phase = "running";
        planningSeconds = seconds(started);
        for (const p of processes) peakWhenRunningSeen.set(p.name, peakRssMb(p.pid));
      }
      if (!["queued", "planning", "running"].includes(view.status)) break;
      if (Date.now() > until) throw new Error(`the import is still ${view.status} after ${IMPORT_TIMEOUT_MS / 60_000} minutes`);
      if (phase === "planning" && !overBudget && seconds(started) > PLAN_BUDGET_S) {
        overBudget = true;
        out(
          `  still planning after the planner's time budget (DROPFLOW_MAX_DURATION_S = ${PLAN_BUDGET_S} s): the plan task is abandoned at its ` +
            `deadline and delivered again, to start over; a longer budget: --worker-env DROPFLOW_MAX_DURATION_S=900`,
        );
      }
      if (performance.now() - lastReport > 15_000) {
        lastReport = performance.now();
        const now = processes.filter((p) => p.name.startsWith("worker")).map((p) => `${p.name} ${rssMb(p.pid)} MB (peak ${peakRssMb(p.pid)})`);
        out(`  ${seconds(started).toFixed(0)} s: ${view.status} ${view.progress.percent}%, ${thousands(view.counts.rows ?? 0)} rows; RSS ${now.join(", ")}`);
      }
    }
    const importSeconds = seconds(started);

    // Memory, read after the end (a worker that died and was replaced is listed too).
    const replaced = services.workerPids().filter((pid) => !services.pids.workers.includes(pid));
    for (const [i, pid] of replaced.entries()) processes.push({ name: `worker-replacement-${i + 1}`, pid });
    const peak: Record<string, number | null> = {};
    for (const p of processes) peak[p.name] = peakRssMb(p.pid);
    const workerPeak = Math.max(...processes.filter((p) => p.name.startsWith("worker")).map((p) => peak[p.name] ?? 0));

    out(`${label}: import ${jobId} ended ${view.status} in ${importSeconds.toFixed(1)} s: ${JSON.stringify(view.counts)}`);
    if (view.status !== "completed" || view.counts.rows !== rows || (view.counts.row_errors ?? 0) !== 0) {
      out(`last_error: ${view.last_error}; errors: ${JSON.stringify(view.errors_by_code)}; files: ${JSON.stringify(view.files)}`);
      throw new Error(`the ${label} import ended ${view.status} with counts.rows ${view.counts.rows} and ${view.counts.row_errors} row errors; expected completed, ${rows} rows, none`);
    }
    const stored = await storedSettlements(services.databaseUrl);
    return {
      label,
      status: view.status,
      seconds: importSeconds,
      planningSeconds,
      uploadSeconds,
      counts: view.counts,
      sheet: view.files[0]?.sheet ?? null,
      stored,
      processes,
      idle,
      peak,
      peakWhenRunningSeen,
      maxSampled,
      workerPeak,
      replaced: replaced.length,
    };
  } finally {
    releaseBlobSdk?.();
    await services.stop();
  }
}

// --- The benchmark ------------------------------------------------------------------

const dataDir = mkdtempSync(path.join(os.tmpdir(), "dropflow-bench-xlsx-"));
try {
  // 1. The data: a sample to measure bytes per row, then the report at the size asked for.
  let started = performance.now();
  const samplePath = path.join(dataDir, "sample.xlsx");
  const sample = await writeSettlementWorkbook(samplePath, reportSource(SAMPLE_ROWS, SEED));
  rmSync(samplePath);
  const bytesPerRow = sample.bytes / SAMPLE_ROWS;
  let rows = Math.round((mbWanted * MB) / bytesPerRow);
  out(
    `sample: ${thousands(SAMPLE_ROWS)} rows, ${(sample.bytes / MB).toFixed(2)} MB (${bytesPerRow.toFixed(1)} bytes a row) in ${seconds(started).toFixed(1)} s; ` +
      `${mbWanted} MB ≈ ${thousands(rows)} rows`,
  );
  if (rows > MAX_ORDER_ROWS) {
    out(`  ${thousands(rows)} rows do not fit in a sheet (Excel's last row is 1,048,576): ${thousands(MAX_ORDER_ROWS)} rows instead`);
    rows = MAX_ORDER_ROWS;
  }
  started = performance.now();
  const source = reportSource(rows, SEED);
  const bookPath = path.join(dataDir, "shopee-income-bench.xlsx");
  const csvPath = path.join(dataDir, "shopee-income-bench.csv");
  const book = await writeSettlementWorkbook(bookPath, source);
  const bookSeconds = seconds(started);
  started = performance.now();
  const csv = await writeSettlementCsv(csvPath, source);
  const csvSeconds = seconds(started);
  const bookMb = book.bytes / MB;
  const csvMb = csv.bytes / MB;
  out(
    `workbook: ${thousands(rows)} rows, ${bookMb.toFixed(1)} MB (estimated ${((rows * bytesPerRow) / MB).toFixed(1)} MB) in ${bookSeconds.toFixed(1)} s; ` +
      `CSV ${csvMb.toFixed(1)} MB in ${csvSeconds.toFixed(1)} s`,
  );
  if (statSync(bookPath).size !== book.bytes || statSync(csvPath).size !== csv.bytes) throw new Error("a written file's size differs from what its writer said");

  // The workbook's shared strings: the one table the planner holds while it converts.
  started = performance.now();
  const opened = await openWorkbook(bookPath, { maxSharedStringBytes: 1024 * MB, maxPartBytes: 64 * 1024 * MB, maxRatio: 100_000 });
  const sharedStrings = { count: opened.sharedStrings.size, bytes: opened.sharedStrings.byteLength };
  opened.close();
  out(`shared strings: ${thousands(sharedStrings.count)}, ${(sharedStrings.bytes / MB).toFixed(1)} MB of UTF-8 (read in ${seconds(started).toFixed(1)} s)`);

  // 2. The two imports, each on fresh services: the CSV (baseline), then the workbook.
  const baseline = await runImport("csv", { path: csvPath, name: path.basename(csvPath), bytes: csv.bytes, contentType: "text/csv" }, rows);
  const workbook = await runImport("workbook", { path: bookPath, name: path.basename(bookPath), bytes: book.bytes, contentType: XLSX_TYPE }, rows);

  // 3. The same settlements landed from both.
  const identical = baseline.stored.md5 === workbook.stored.md5 && baseline.stored.rows === workbook.stored.rows && workbook.stored.rows === rows;

  // 4. The figures.
  const ratio = workbook.seconds / baseline.seconds;
  const underTarget = workbook.workerPeak < RSS_TARGET_MB;
  const figures = {
    bench: "xlsx",
    mb: mbWanted,
    workers,
    chunk_rows: CHUNK_ROWS,
    ...(Object.keys(workerEnv).length > 0 ? { worker_env: workerEnv } : {}),
    rows,
    workbook_mb: round(bookMb, 1),
    csv_mb: round(csvMb, 1),
    shared_strings: sharedStrings.count,
    shared_strings_mb: round(sharedStrings.bytes / MB, 1),
    sheet: workbook.sheet,
    status: workbook.status,
    seconds: round(workbook.seconds),
    rows_per_s: Math.round(rows / workbook.seconds),
    planning_seconds: workbook.planningSeconds === null ? null : round(workbook.planningSeconds),
    baseline_status: baseline.status,
    baseline_seconds: round(baseline.seconds),
    baseline_rows_per_s: Math.round(rows / baseline.seconds),
    baseline_planning_seconds: baseline.planningSeconds === null ? null : round(baseline.planningSeconds),
    ratio: round(ratio),
    upload_seconds: { workbook: round(workbook.uploadSeconds), csv: round(baseline.uploadSeconds) },
    counts: { workbook: workbook.counts, csv: baseline.counts },
    settlements_identical: identical,
    peak_rss_mb: { workbook: workbook.peak, csv: baseline.peak },
    rss_mb_sampled_while_planning: { workbook: Object.fromEntries(workbook.maxSampled.planning), csv: Object.fromEntries(baseline.maxSampled.planning) },
    idle_rss_mb: { workbook: Object.fromEntries(workbook.idle), csv: Object.fromEntries(baseline.idle) },
    workers_replaced: { workbook: workbook.replaced, csv: baseline.replaced },
    targets: { workers_under_256mb: underTarget },
  };

  const fmt = (value: number | null | undefined) => (value === null || value === undefined ? "–" : String(value));
  out();
  out(`| ${thousands(rows)} order rows, ${workers} workers, chunks of ${CHUNK_ROWS} rows | CSV (baseline) | workbook |`);
  out("|---|---|---|");
  out(`| file | ${csvMb.toFixed(1)} MB | ${bookMb.toFixed(1)} MB (sheet ${workbook.sheet ?? "?"}; ${thousands(sharedStrings.count)} shared strings, ${(sharedStrings.bytes / MB).toFixed(1)} MB) |`);
  out(`| upload (not timed below): @vercel/blob/client upload() via POST /api/uploads | ${baseline.uploadSeconds.toFixed(1)} s | ${workbook.uploadSeconds.toFixed(1)} s |`);
  out(`| import: POST /api/imports until the end | ${figures.baseline_seconds} s, \`${baseline.status}\` | ${figures.seconds} s, \`${workbook.status}\` |`);
  out(`| … of which planning (seen by the poll; the workbook's includes its conversion to CSV) | ${fmt(figures.baseline_planning_seconds)} s | ${fmt(figures.planning_seconds)} s |`);
  out(`| rows/s | ${thousands(figures.baseline_rows_per_s)} | ${thousands(figures.rows_per_s)} |`);
  out(`| counts | ${JSON.stringify(baseline.counts)} | ${JSON.stringify(workbook.counts)} |`);
  out();
  out(`ratio (workbook / CSV seconds): ${figures.ratio}x`);
  out(
    `settlements: ${thousands(baseline.stored.rows)} stored from the CSV, ${thousands(workbook.stored.rows)} from the workbook; ` +
      `${identical ? "identical" : "DIFFER"} (md5 of every row's content: ${baseline.stored.md5} / ${workbook.stored.md5})`,
  );
  out();
  out(
    "| process | CSV: idle RSS (MB) | CSV: peak RSS (MB) | CSV: largest RSS sampled while planning / running chunks (MB) | " +
      "workbook: idle RSS (MB) | workbook: peak RSS when first seen running (MB) | workbook: peak RSS (MB) | workbook: largest RSS sampled while planning / running chunks (MB) |",
  );
  out("|---|---|---|---|---|---|---|---|");
  const names = [...new Set([...baseline.processes, ...workbook.processes].map((p) => p.name))];
  for (const name of names) {
    out(
      `| ${name} | ${fmt(baseline.idle.get(name))} | ${fmt(baseline.peak[name])} | ` +
        `${fmt(baseline.maxSampled.planning.get(name))} / ${fmt(baseline.maxSampled.running.get(name))} | ${fmt(workbook.idle.get(name))} | ` +
        `${fmt(workbook.peakWhenRunningSeen.get(name))} | ${fmt(workbook.peak[name])} | ` +
        `${fmt(workbook.maxSampled.planning.get(name))} / ${fmt(workbook.maxSampled.running.get(name))} |`,
    );
  }
  out(
    `worker peak RSS: workbook ${workbook.workerPeak} MB, CSV ${baseline.workerPeak} MB — target under ${RSS_TARGET_MB} MB for the workbook: ${underTarget ? "met" : "NOT met"}` +
      (workbook.replaced + baseline.replaced > 0 ? `; ${workbook.replaced + baseline.replaced} worker(s) died and were replaced` : ""),
  );
  out(JSON.stringify(figures));
  if (!identical) throw new Error("the settlements stored from the workbook differ from those stored from the CSV");
} catch (error) {
  process.stderr.write(`bench:xlsx failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  if (lastLines().length > 0) process.stderr.write(`last lines of the services:\n${lastLines().join("\n")}\n`);
  process.exitCode = 1;
} finally {
  if (values.keep) out(`data set kept in ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}
