/**
 * `npm run bench:reconcile`: a reconcile of everything end to end in local services mode
 * (real Postgres, real Redis behind the Upstash bridge, the QStash stand-in, N worker
 * processes), against one hand-written SQL statement in the same run.
 *
 *   npm run bench:reconcile -- [--purchases 1000000] [--files 20] [--workers 2] [--seed 1]
 *                              [--chunk 50000] [--worker-env NAME=VALUE …] [--keep] [--skip-margin]
 *
 * 1. `generate()` writes the data set (purchases with 1 % bad rows, and the settlement
 *    reports, deterministic seed) into a temporary directory.
 * 2. startLocalServices() starts every server from a bare environment; the workers run
 *    with DROPFLOW_RECONCILE_CHUNK = --chunk (invoices per chunk).
 * 3. The load, not timed in either figure: the bench process reads every file with the
 *    import's own code (the planner's cutting, the row validators, the content hashes:
 *    exactly the orders, lines and settlement rows an import would keep, each order's
 *    highest-ranked version winning), COPYs them into staging tables and moves them
 *    set-based into stores, purchases, purchase_lines and settlements, in file order;
 *    then VACUUM ANALYZE and a checkpoint, as the tables would be some time after an
 *    import. What landed must be the generator's orders, lines and settlement rows.
 * 4. The run: POST /api/reconcile {} (every store, every date), then GET
 *    /api/reconcile/:id until it ends. Timed from the POST to the end; it must end
 *    `completed`. Planning time and chunk time come from the job's own timestamps.
 * 5. The baseline: bench/reconcile-baseline.sql, one INSERT … SELECT of every outcome
 *    into a table made like reconcile_results, timed, same server, same database.
 * 7. The margin report by month, store and SKU through its route, live over the same
 *    data: the median of 3 answers each (`margin_report_ms`).
 * 6. Checks (a FAIL exits non-zero): the run's results and the baseline's are the same
 *    per (store, invoice) — outcome, expected, actual, diff, split_invoice, order_date —
 *    and both are the generator's outcomes.csv, row for row; the run's counts are the
 *    manifest's totals (summary.json).
 * Records are invoices decided (results rows). The ratio is run seconds / baseline
 * seconds (target: within 3x). The last line is one JSON object (bench/README.md, "The
 * last line").
 */
import { once } from "node:events";
import { createReadStream, mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type Writable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { generate, type Summary } from "../dev/generate/run.js";
import { type LocalServices, peakRssMb } from "../dev/services.js";
import { RECONCILE_CHUNK_INVOICES } from "../lib/config.js";
import { RECONCILE_OUTCOMES } from "../lib/db/schema.js";
import { MARGIN_GROUPS } from "../lib/reports/margin.js";
import { type FileRange, forEachChunkRow, mapHeader, planFileChunks } from "../lib/imports/csv/index.js";
import type { PurchaseOrder, Settlement } from "../lib/imports/model.js";
import { purchaseValidator } from "../lib/imports/purchase-rows.js";
import { purchaseContentHash } from "../lib/imports/purchases.js";
import { SETTLEMENT_MONEY, settlementValidator } from "../lib/imports/settlement-rows.js";
import { settlementContentHash } from "../lib/imports/settlements.js";
import { out, round, rssMb, seconds, sleep, startBenchServices, thousands } from "./report.js";
import { parseWorkerEnv } from "./worker-env.js";

const { values } = parseArgs({
  options: {
    purchases: { type: "string", default: "1000000" },
    files: { type: "string", default: "20" },
    workers: { type: "string", default: "2" },
    seed: { type: "string", default: "1" },
    chunk: { type: "string", default: String(RECONCILE_CHUNK_INVOICES) },
    /** Extra worker environment, NAME=VALUE, repeatable. */
    "worker-env": { type: "string", multiple: true, default: [] },
    keep: { type: "boolean", default: false },
    /** Leave out the margin report's timing (at 10 M its SKU group alone takes minutes). */
    "skip-margin": { type: "boolean", default: false },
  },
});
const purchasesWanted = Number(values.purchases);
const filesWanted = Math.max(1, Math.min(Number(values.files), Math.floor(purchasesWanted / 1000) || 1));
const workers = Math.max(1, Number(values.workers));
const CHUNK_INVOICES = Math.max(1, Number(values.chunk));
const workerEnv = parseWorkerEnv(values["worker-env"]);
const RUN_TIMEOUT_MS = 30 * 60_000;
const BASELINE_SQL = fileURLToPath(new URL("./reconcile-baseline.sql", import.meta.url));
const TIMED_MARKER = /^-- ==== TIMED.*$/m;
const RATIO_TARGET = 3;
const RSS_TARGET_MB = 256;
/** Rows per piece the load validates at a time (the import's planner cut, with the import's code). */
const LOAD_CHUNK_ROWS = 20_000;
/** first_job_id / last_job_id of what the load writes (no such job: nothing reads them here). */
const LOAD_JOB_ID = "00000000-0000-0000-0000-000000000000";


// ---- The load: the import's parsing and validation, COPY, set-based SQL ----

type CopyValue = string | number | boolean | null;
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** One value in COPY's text format. */
function copyValue(value: CopyValue): string {
  if (value === null) return "\\N";
  if (typeof value !== "string") return String(value);
  return /[\\\t\n\r]/.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c] as string) : value;
}
const copyLine = (fields: CopyValue[]) => `${fields.map(copyValue).join("\t")}\n`;

/** A COPY … FROM STDIN in progress on its own connection, written with backpressure. */
class CopyWriter {
  private readonly stream: Writable;
  private readonly done: Promise<void>;
  private pending: string[] = [];
  private pendingLength = 0;

  constructor(client: pg.Client, table: string, columns: readonly string[]) {
    this.stream = client.query(copyFrom(`copy ${table} (${columns.join(", ")}) from stdin`));
    this.done = finished(this.stream);
    this.done.catch(() => undefined); // surfaced by end() or the next write
  }

  async write(line: string): Promise<void> {
    this.pending.push(line);
    this.pendingLength += line.length;
    if (this.pendingLength >= 256 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const text = this.pending.join("");
    this.pending = [];
    this.pendingLength = 0;
    if (!this.stream.write(text)) await Promise.race([once(this.stream, "drain"), this.done]);
  }

  async end(): Promise<void> {
    await this.flush();
    this.stream.end();
    await this.done;
  }
}

const ORDER_COLUMNS = [
  "order_code", "rank_job", "rank_file", "rank_line", "transaction_code", "store_name", "store_key", "channel", "invoice",
  "ordered_at", "status", "other_fee", "partner_fee", "order_total", "created_by", "warehouse", "courier", "cashless",
  "waybill", "shipped_at", "province", "city", "content_hash",
] as const;
const LINE_COLUMNS = [
  "order_code", "rank_job", "rank_file", "rank_line", "line_no", "sku", "product_name", "unit_cost", "qty", "line_cost",
  "unit_price", "line_price", "line_margin",
] as const;
const MONEY_COLUMNS = SETTLEMENT_MONEY.map(([column]) => column);
const SETTLEMENT_COLUMNS = [
  "store_key", "rank_job", "rank_file", "rank_line", "order_sn", "ordered_on", "payout_date", ...MONEY_COLUMNS,
  "shipping_service", "courier_name", "content_hash",
] as const;

function orderLine(order: PurchaseOrder): string {
  const o = order;
  return copyLine([
    o.orderCode, o.rank.job, o.rank.file, o.rank.line, o.transactionCode, o.storeName.trim(), o.storeName.trim().toLowerCase(),
    o.channel, o.invoice, o.orderedAt.toISOString(), o.status, o.otherFee, o.partnerFee, o.orderTotal, o.createdBy,
    o.warehouse, o.courier, o.cashless, o.waybill, o.shippedAt?.toISOString() ?? null, o.province, o.city,
    purchaseContentHash(o),
  ]);
}

function settlementLine(storeKey: string, row: Settlement): string {
  return copyLine([
    storeKey, row.rank.job, row.rank.file, row.rank.line, row.orderSn, row.orderedOn, row.payoutDate,
    ...SETTLEMENT_MONEY.map(([, key]) => row[key] as number), row.shippingService, row.courierName, settlementContentHash(row),
  ]);
}

/** The chunks of one file as the import's planner cuts them; a file the import would refuse stops the bench. */
async function planOf(file: string, fileType: "purchases" | "settlements"): Promise<FileRange[]> {
  const plan = await planFileChunks(createReadStream(file, { highWaterMark: 1024 * 1024 }), { fileType, targetRows: LOAD_CHUNK_ROWS });
  if (plan.fileError) throw new Error(`${file}: the import would refuse it (${plan.fileError.code}: ${plan.fileError.message})`);
  return plan.chunks;
}

const rangeOf = (file: string, chunk: FileRange) =>
  createReadStream(file, { start: chunk.startByte, end: Math.max(chunk.startByte, chunk.endByte - 1), highWaterMark: 1024 * 1024 });

interface Loaded {
  orders: number;
  lines: number;
  settlements: number;
  stores: number;
  /** Order blocks read (an order re-exported later counts once per block). */
  blocks: number;
  rowErrors: number;
  readSeconds: number;
  sqlSeconds: number;
  vacuumSeconds: number;
  seconds: number;
}

async function load(databaseUrl: string, summary: Summary, dataDir: string): Promise<Loaded> {
  const started = performance.now();
  const main = new pg.Client({ connectionString: databaseUrl });
  const second = new pg.Client({ connectionString: databaseUrl });
  await Promise.all([main.connect(), second.connect()]);
  try {
    await main.query(`
      drop table if exists load_orders, load_lines, load_settlements;
      create unlogged table load_orders (
        order_code text, rank_job int, rank_file int, rank_line int, transaction_code text, store_name text, store_key text,
        channel text, invoice text, ordered_at timestamptz, status text, other_fee bigint, partner_fee bigint,
        order_total bigint, created_by text, warehouse text, courier text, cashless boolean, waybill text,
        shipped_at timestamptz, province text, city text, content_hash text);
      create unlogged table load_lines (
        order_code text, rank_job int, rank_file int, rank_line int, line_no int, sku text, product_name text,
        unit_cost bigint, qty int, line_cost bigint, unit_price bigint, line_price bigint, line_margin bigint);
      create unlogged table load_settlements (
        store_key text, rank_job int, rank_file int, rank_line int, order_sn text, ordered_on date, payout_date date,
        ${MONEY_COLUMNS.map((column) => `${column} bigint`).join(", ")}, shipping_service text, courier_name text,
        content_hash text);`);

    // Purchases: one import of every file in name order (file position = rank), as bench:import posts them.
    const purchaseFiles = summary.files
      .filter((file) => file.file_type === "purchases")
      .map((file) => file.name)
      .sort();
    const orders = new CopyWriter(main, "load_orders", ORDER_COLUMNS);
    const lines = new CopyWriter(second, "load_lines", LINE_COLUMNS);
    let blocks = 0;
    let rowErrors = 0;
    for (const [position, name] of purchaseFiles.entries()) {
      const file = path.join(dataDir, name);
      for (const chunk of await planOf(file, "purchases")) {
        const columns = mapHeader(chunk.layout.header, "purchases");
        const validator = purchaseValidator(columns, {
          jobSeq: 1,
          filePosition: position,
          lenientAmounts: false,
          repeatedFromEarlierChunks: new Set(chunk.repeatedKeys ?? []),
        });
        await forEachChunkRow(rangeOf(file, chunk), chunk, validator.add, columns);
        const result = validator.finish();
        rowErrors += result.errors.length;
        blocks += result.orders.length;
        for (const order of result.orders) {
          await orders.write(orderLine(order));
          for (const l of order.lines) {
            await lines.write(
              copyLine([order.orderCode, order.rank.job, order.rank.file, order.rank.line, l.lineNo, l.sku, l.productName,
                l.unitCost, l.qty, l.lineCost, l.unitPrice, l.linePrice, l.lineMargin]),
            );
          }
        }
      }
    }
    await Promise.all([orders.end(), lines.end()]);

    // Settlements: one import per store of its reports in name order, as the reconcile services test does.
    const settlementFiles = summary.files.filter((file) => file.file_type === "settlements").sort((a, b) => (a.name < b.name ? -1 : 1));
    const storeNames = [...new Set(settlementFiles.map((file) => file.store as string))];
    const settlements = new CopyWriter(main, "load_settlements", SETTLEMENT_COLUMNS);
    for (const [storeIndex, storeName] of storeNames.entries()) {
      const storeKey = storeName.trim().toLowerCase();
      for (const [position, entry] of settlementFiles.filter((file) => file.store === storeName).entries()) {
        const file = path.join(dataDir, entry.name);
        for (const chunk of await planOf(file, "settlements")) {
          const columns = mapHeader(chunk.layout.header, "settlements");
          const validator = settlementValidator(columns, { jobSeq: 2 + storeIndex, filePosition: position });
          await forEachChunkRow(rangeOf(file, chunk), chunk, validator.add, columns);
          const result = validator.finish();
          rowErrors += result.errors.length;
          for (const row of result.settlements) await settlements.write(settlementLine(storeKey, row));
        }
      }
    }
    await settlements.end();
    const readSeconds = seconds(started);

    // Set-based, in one transaction: what the import's chunks would have left.
    const sqlStarted = performance.now();
    const money = MONEY_COLUMNS.join(", ");
    await main.query(`
      begin;
      set local work_mem = '256MB';
      -- Stores as ensureStores() makes them: matched without case, the first name seen kept.
      insert into stores (name, channel)
      select distinct on (store_key) store_name, channel from load_orders order by store_key, rank_job, rank_file, rank_line
      on conflict do nothing;
      -- Each order's highest-ranked block wins, with its lines.
      create temp table load_won on commit drop as
      select distinct on (order_code) order_code, rank_job, rank_file, rank_line from load_orders
      order by order_code, rank_job desc, rank_file desc, rank_line desc;
      insert into purchases (order_code, transaction_code, store_id, channel, invoice, ordered_at, status, other_fee,
        partner_fee, order_total, created_by, warehouse, courier, cashless, waybill, shipped_at, province, city,
        content_hash, rank_job, rank_file, rank_line, first_job_id, last_job_id)
      select o.order_code, o.transaction_code, st.id, o.channel, o.invoice, o.ordered_at, o.status, o.other_fee,
        o.partner_fee, o.order_total, o.created_by, o.warehouse, o.courier, o.cashless, o.waybill, o.shipped_at,
        o.province, o.city, o.content_hash, o.rank_job, o.rank_file, o.rank_line, '${LOAD_JOB_ID}', '${LOAD_JOB_ID}'
      from load_orders o
      join load_won w using (order_code, rank_job, rank_file, rank_line)
      join stores st on lower(st.name) = o.store_key
      order by o.rank_job, o.rank_file, o.rank_line;
      insert into purchase_lines (order_code, line_no, sku, product_name, unit_cost, qty, line_cost, unit_price, line_price,
        line_margin)
      select l.order_code, l.line_no, l.sku, l.product_name, l.unit_cost, l.qty, l.line_cost, l.unit_price, l.line_price,
        l.line_margin
      from load_lines l
      join load_won w using (order_code, rank_job, rank_file, rank_line)
      order by l.rank_job, l.rank_file, l.rank_line, l.line_no;
      -- Settlements: per (store, order number) the highest rank wins.
      insert into settlements (store_id, order_sn, ordered_on, payout_date, ${money}, shipping_service, courier_name,
        content_hash, rank_job, rank_file, rank_line, first_job_id, last_job_id)
      select store_id, order_sn, ordered_on, payout_date, ${money}, shipping_service, courier_name, content_hash,
        rank_job, rank_file, rank_line, '${LOAD_JOB_ID}', '${LOAD_JOB_ID}'
      from (
        select distinct on (st.id, s.order_sn) st.id as store_id, s.*
        from load_settlements s join stores st on lower(st.name) = s.store_key
        order by st.id, s.order_sn, s.rank_job desc, s.rank_file desc, s.rank_line desc
      ) won
      order by rank_job, rank_file, rank_line;
      commit;
      drop table load_orders, load_lines, load_settlements;`);
    // The settlement imports link each report's seller to its store.
    for (const store of summary.stores) {
      await main.query(
        `update stores set marketplace_usernames = array_append(marketplace_usernames, $2)
         where lower(name) = lower($1) and not ($2 = any(marketplace_usernames))`,
        [store.name, store.username],
      );
    }
    const sqlSeconds = seconds(sqlStarted);
    const vacuumStarted = performance.now();
    await main.query("vacuum analyze stores, purchases, purchase_lines, settlements");
    await main.query("checkpoint");
    const vacuumSeconds = seconds(vacuumStarted);
    const { rows } = await main.query<{ orders: number; lines: number; settlements: number; stores: number }>(
      `select (select count(*)::int from purchases) as orders, (select count(*)::int from purchase_lines) as lines,
              (select count(*)::int from settlements) as settlements, (select count(*)::int from stores) as stores`,
    );
    const counts = rows[0] as { orders: number; lines: number; settlements: number; stores: number };
    return { ...counts, blocks, rowErrors, readSeconds, sqlSeconds, vacuumSeconds, seconds: seconds(started) };
  } finally {
    await Promise.all([main.end(), second.end()]);
  }
}

// ---- The checks ----

const RESULT_COLUMNS = "store_id, invoice, outcome, expected, actual, diff, split_invoice, order_date";

interface Comparison {
  /** Rows of the first side that the second lacks, and the other way round. */
  onlyLeft: number;
  onlyRight: number;
  samples: string[];
}

/** `left` and `right` (queries with the same columns) as multisets: what each has that the other lacks. */
async function compare(client: pg.Client, left: string, right: string, params: unknown[]): Promise<Comparison> {
  const { rows } = await client.query<{ side: string; n: number; sample: string[] | null }>(
    `with l as (${left}), r as (${right}),
          only_left as (select * from l except all select * from r),
          only_right as (select * from r except all select * from l)
     select 'left' as side, count(*)::int as n, (array_agg(only_left::text))[1:3] as sample from only_left
     union all
     select 'right', count(*)::int, (array_agg(only_right::text))[1:3] from only_right`,
    params,
  );
  const left_ = rows.find((row) => row.side === "left");
  const right_ = rows.find((row) => row.side === "right");
  return {
    onlyLeft: left_?.n ?? 0,
    onlyRight: right_?.n ?? 0,
    samples: [...(left_?.sample ?? []).map((s) => `only in the first: ${s}`), ...(right_?.sample ?? []).map((s) => `only in the second: ${s}`)],
  };
}

interface ReconcileView {
  status: string;
  last_error: string | null;
  progress: { percent: number | null; rate_per_s: number | null; eta_s: number | null; rows: { total: number; done: number } };
  counts: Record<string, number>;
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), "dropflow-bench-reconcile-"));
let lastLines: () => string[] = () => [];
let services: LocalServices | undefined;
try {
  // 1. The data set.
  let started = performance.now();
  const summary = await generate({
    rows: purchasesWanted,
    files: filesWanted,
    seed: values.seed,
    badRate: 0.01,
    out: dataDir,
    stores: 5,
    settlements: true,
    force: false,
  });
  const totals = summary.totals;
  const manifestInvoices = Object.values(totals.outcomes).reduce((sum, n) => sum + n, 0);
  out(
    `generated ${thousands(totals.rows)} purchase rows in ${totals.purchaseFiles} files and ${thousands(totals.settlementRows)} ` +
      `settlement rows in ${totals.settlementFiles} reports (${thousands(totals.orders)} orders, ${thousands(totals.landedLines)} lines, ` +
      `${thousands(manifestInvoices)} outcomes in the manifest) in ${seconds(started).toFixed(1)} s`,
  );

  // 2. Every server, from a bare environment.
  started = performance.now();
  const bench = await startBenchServices(workers, { DROPFLOW_RECONCILE_CHUNK: String(CHUNK_INVOICES), ...workerEnv });
  services = bench.services;
  lastLines = bench.lastLines;
  const running = services;
  const processes = [...bench.processes];
  out(`local services up in ${seconds(started).toFixed(1)} s: ${workers} workers, pids ${running.pids.workers.join(", ")}`);

  // 3. The load (not timed in either figure).
  const loaded = await load(running.databaseUrl, summary, dataDir);
  out(
    `loaded ${thousands(loaded.orders)} orders, ${thousands(loaded.lines)} lines, ${thousands(loaded.settlements)} settlements, ` +
      `${loaded.stores} stores in ${loaded.seconds.toFixed(1)} s (read + validate + COPY ${loaded.readSeconds.toFixed(1)} s, ` +
      `SQL ${loaded.sqlSeconds.toFixed(1)} s, vacuum analyze + checkpoint ${loaded.vacuumSeconds.toFixed(1)} s; ` +
      `${thousands(loaded.rowErrors)} rows rejected as the import would)`,
  );
  if (loaded.orders !== totals.orders || loaded.lines !== totals.landedLines || loaded.settlements !== totals.settlementRows) {
    throw new Error(
      `FAIL: the load is not the generator's data: ${loaded.orders}/${loaded.lines}/${loaded.settlements} orders/lines/settlements ` +
        `against ${totals.orders}/${totals.landedLines}/${totals.settlementRows}`,
    );
  }

  const headers = { authorization: `Bearer ${running.apiToken}`, "content-type": "application/json" };
  const api = async <T>(route: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${running.baseUrl}${route}`, { ...init, headers: { ...headers, ...init.headers } });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
  };

  // 4. The run, from the POST to its end.
  const maxRss = new Map<string, number>();
  started = performance.now();
  const created = await api<{ job_id: string; status_url: string }>("/api/reconcile", { method: "POST", body: "{}" });
  if (created.status !== 202) throw new Error(`POST /api/reconcile answered ${created.status}: ${JSON.stringify(created.body)}`);
  const jobId = created.body.job_id;
  let view: ReconcileView;
  let lastReport = performance.now();
  for (const until = Date.now() + RUN_TIMEOUT_MS; ; ) {
    await sleep(100);
    for (const p of processes) maxRss.set(p.name, Math.max(maxRss.get(p.name) ?? 0, rssMb(p.pid) ?? 0));
    const polled = await api<ReconcileView>(created.body.status_url);
    if (polled.status !== 200) throw new Error(`GET ${created.body.status_url} answered ${polled.status}: ${JSON.stringify(polled.body)}`);
    view = polled.body;
    if (!["queued", "planning", "running"].includes(view.status)) break;
    if (Date.now() > until) throw new Error(`the run is still ${view.status} after ${RUN_TIMEOUT_MS / 60_000} minutes`);
    if (performance.now() - lastReport > 15_000) {
      lastReport = performance.now();
      const p = view.progress;
      out(`  ${seconds(started).toFixed(0)} s: ${view.status} ${p.percent ?? 0}%, ${thousands(p.rows.done)} of ${thousands(p.rows.total)} invoices, ${p.rate_per_s ?? "–"}/s, eta ${p.eta_s ?? "–"} s`);
    }
  }
  const runSeconds = seconds(started);
  out(`reconcile ${jobId} ended ${view.status} in ${runSeconds.toFixed(1)} s: ${JSON.stringify(view.counts)}`);
  if (view.status !== "completed") throw new Error(`FAIL: the run ended ${view.status}: ${view.last_error}`);

  const db = new pg.Client({ connectionString: running.databaseUrl });
  await db.connect();
  let baselineSeconds: number;
  let timing: { plan_s: number; chunks_s: number; finish_s: number; chunks: number; attempts: number; records: number };
  let runVsBaseline: Comparison;
  let runVsManifest: Comparison;
  try {
    // The run's phases by its own clock: created → planned (started_at) → last chunk committed → finished.
    const phases = await db.query<typeof timing>(
      `select extract(epoch from j.started_at - j.created_at)::float8 as plan_s,
              extract(epoch from max(c.completed_at) - j.started_at)::float8 as chunks_s,
              extract(epoch from j.finished_at - max(c.completed_at))::float8 as finish_s,
              count(c.*)::int as chunks, coalesce(sum(c.attempts), 0)::int as attempts,
              (select count(*)::int from reconcile_results r where r.job_id = j.id) as records
       from jobs j left join job_chunks c on c.job_id = j.id where j.id = $1 group by j.id`,
      [jobId],
    );
    timing = phases.rows[0] as typeof timing;

    // 5. The baseline: the script's set-up, then its one statement, timed.
    const [prepareSql, statementSql] = (await readFile(BASELINE_SQL, "utf8")).split(TIMED_MARKER);
    if (!prepareSql || !statementSql) throw new Error(`${BASELINE_SQL} has no TIMED marker line`);
    await db.query(prepareSql);
    const baselineStarted = performance.now();
    await db.query(statementSql.trim().replace(/;\s*$/, ""), [jobId]);
    baselineSeconds = seconds(baselineStarted);
    await db.query("reset work_mem");

    // 6. The checks: the run against the baseline, and against the generator's manifest.
    runVsBaseline = await compare(
      db,
      `select ${RESULT_COLUMNS} from reconcile_results where job_id = $1`,
      `select ${RESULT_COLUMNS} from baseline_results`,
      [jobId],
    );
    await db.query(`create temp table bench_manifest (store text, invoice text, outcome text, expected bigint, actual bigint,
                      diff bigint, split_invoice boolean, order_date date)`);
    await pipeline(
      createReadStream(path.join(dataDir, "outcomes.csv")),
      db.query(copyFrom("copy bench_manifest from stdin with (format csv, header true)")),
    );
    runVsManifest = await compare(
      db,
      `select s.name, r.invoice, r.outcome, r.expected, r.actual, r.diff, r.split_invoice, r.order_date
       from reconcile_results r join stores s on s.id = r.store_id where r.job_id = $1`,
      `select * from bench_manifest`,
      [jobId],
    );
  } finally {
    await db.end();
  }
  // 7. The margin report, live over the same data, through its route: median of 3 per group.
  const marginMs: Record<string, number> = {};
  for (const group of values["skip-margin"] ? [] : MARGIN_GROUPS) {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const answer = await api<{ rows: unknown[] }>(`/api/reports/margin?group=${group}`);
      times.push(performance.now() - t);
      if (answer.status !== 200) throw new Error(`GET /api/reports/margin?group=${group} answered ${answer.status}`);
    }
    marginMs[group] = Math.round(times.sort((a, b) => a - b)[1] as number);
  }
  const countsAgree = RECONCILE_OUTCOMES.every((outcome) => (view.counts[outcome] ?? 0) === (totals.outcomes[outcome] ?? 0));

  // Memory, after everything ran.
  const replaced = running.workerPids().filter((pid) => !running.pids.workers.includes(pid));
  for (const [i, pid] of replaced.entries()) processes.push({ name: `worker-replacement-${i + 1}`, pid });
  const peak: Record<string, number | null> = {};
  for (const p of processes) peak[p.name] = peakRssMb(p.pid);
  const workerPeak = Math.max(...processes.filter((p) => p.name.startsWith("worker")).map((p) => peak[p.name] ?? 0));
  const records = timing.records;
  const ratio = runSeconds / baselineSeconds;
  const passed =
    runVsBaseline.onlyLeft + runVsBaseline.onlyRight === 0 &&
    runVsManifest.onlyLeft + runVsManifest.onlyRight === 0 &&
    countsAgree &&
    records === manifestInvoices;

  const figures = {
    bench: "reconcile",
    purchases: totals.rows,
    files: totals.purchaseFiles,
    settlement_files: totals.settlementFiles,
    workers,
    chunk_invoices: CHUNK_INVOICES,
    ...(Object.keys(workerEnv).length > 0 ? { worker_env: workerEnv } : {}),
    status: view.status,
    records,
    chunks: timing.chunks,
    chunk_attempts: timing.attempts,
    seconds: round(runSeconds),
    records_per_s: Math.round(records / runSeconds),
    plan_seconds: round(timing.plan_s),
    chunks_seconds: round(timing.chunks_s),
    finish_seconds: round(timing.finish_s),
    baseline_seconds: round(baselineSeconds),
    baseline_records_per_s: Math.round(records / baselineSeconds),
    ratio: round(ratio),
    margin_report_ms: marginMs,
    load_seconds: round(loaded.seconds),
    loaded: { orders: loaded.orders, lines: loaded.lines, settlements: loaded.settlements, stores: loaded.stores },
    counts: view.counts,
    checks: {
      passed,
      run_vs_baseline_differing_rows: runVsBaseline.onlyLeft + runVsBaseline.onlyRight,
      run_vs_manifest_differing_rows: runVsManifest.onlyLeft + runVsManifest.onlyRight,
      counts_equal_manifest_totals: countsAgree,
    },
    peak_rss_mb: peak,
    largest_rss_sampled_mb: Object.fromEntries(maxRss),
    workers_replaced: replaced.length,
    targets: { ratio_within_3x: ratio <= RATIO_TARGET, worker_peak_rss_under_256mb: workerPeak < RSS_TARGET_MB },
  };

  out();
  out(
    `| ${thousands(totals.rows)} purchase rows, ${thousands(loaded.settlements)} settlements → ${thousands(records)} invoices decided, ` +
      `${workers} workers, chunks of ${thousands(CHUNK_INVOICES)} invoices (${timing.chunks} chunks) | seconds | records/s |`,
  );
  out("|---|---|---|");
  out(`| reconcile: POST /api/reconcile {} until \`${view.status}\` (plan, queue, ${workers} workers, Redis, Postgres: results, current outcomes, sums) | ${figures.seconds} | ${thousands(figures.records_per_s)} |`);
  out(`| … of which planning (created → chunks saved, by the job's clock) | ${figures.plan_seconds} | |`);
  out(`| … of which chunks (planned → last chunk committed) | ${figures.chunks_seconds} | ${thousands(records / timing.chunks_s)} |`);
  out(`| … of which finishing (last commit → finished) and polling | ${round(runSeconds - timing.plan_s - timing.chunks_s)} | |`);
  out(`| baseline: one INSERT … SELECT of every outcome into a table like reconcile_results, one session (bench/reconcile-baseline.sql) | ${figures.baseline_seconds} | ${thousands(figures.baseline_records_per_s)} |`);
  out(`| load (in neither figure): the import's parsing and validation, COPY, set-based SQL, vacuum analyze | ${figures.load_seconds} | ${thousands(totals.rows / loaded.seconds)} rows/s |`);
  out(
    `| margin report, GET /api/reports/margin live over every purchase and settlement (median of 3): ` +
      (MARGIN_GROUPS.map((group) => (marginMs[group] === undefined ? "" : `by ${group} ${marginMs[group]} ms`)).filter(Boolean).join(", ") || "skipped") +
      " | | |",
  );
  out();
  out(`ratio (reconcile / baseline): ${figures.ratio}x — target within ${RATIO_TARGET}x: ${figures.targets.ratio_within_3x ? "met" : "NOT met"}`);
  const verdict = (comparison: Comparison) =>
    comparison.onlyLeft + comparison.onlyRight === 0 ? "identical" : `DIFFER (${comparison.onlyLeft} rows only in the run, ${comparison.onlyRight} only in the other)`;
  out(
    `checks: run vs baseline ${verdict(runVsBaseline)}; run vs outcomes.csv ${verdict(runVsManifest)}; ` +
      `counts ${countsAgree ? "equal" : "DIFFER from"} the manifest's totals; ${thousands(records)} results for ${thousands(manifestInvoices)} manifest outcomes`,
  );
  for (const sample of [...runVsBaseline.samples, ...runVsManifest.samples]) out(`  ${sample}`);
  out();
  out("| process | pid | peak RSS (MB) | largest RSS sampled during the run (MB) |");
  out("|---|---|---|---|");
  for (const p of processes) out(`| ${p.name} | ${p.pid} | ${peak[p.name] ?? "gone"} | ${maxRss.get(p.name) ?? "–"} |`);
  out(
    `worker peak RSS ${workerPeak} MB — target under ${RSS_TARGET_MB} MB: ${figures.targets.worker_peak_rss_under_256mb ? "met" : "NOT met"}` +
      (replaced.length > 0 ? `; ${replaced.length} worker(s) died and were replaced during the run` : ""),
  );
  if (!passed) {
    out("FAIL: the run's results are not the baseline's or the manifest's (see checks above)");
    process.exitCode = 1;
  }
  out(JSON.stringify(figures));
} catch (error) {
  process.stderr.write(`bench:reconcile failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  if (lastLines().length > 0) process.stderr.write(`last lines of the services:\n${lastLines().join("\n")}\n`);
  process.exitCode = 1;
} finally {
  await services?.stop();
  if (values.keep) out(`data set kept in ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}
