/**
 * `npm run bench:sync`: the catalogue sync in local services mode (2 worker processes,
 * real Postgres, real Redis behind the Upstash bridge, the QStash stand-in, the eMAG and
 * SAP simulators in their own process).
 *
 *  - eMAG: N offers (default 30,000) under the simulator's real 3 req/s + 180/min
 *    limit, the account paced at the same limit, chunks spread over both workers
 *    sharing it through Redis. Figures: the achieved request rate as a fraction of the
 *    limit (from the simulator's own log, first to last request of the run), the 429s
 *    in the run record and as the simulator saw them. Baseline: the limit itself.
 *  - SAP: M items (default 20,000) at 100 ms per request, with 5 workers and with 1
 *    (a fresh set of services each: the worker count is a deployment setting). Figures:
 *    seconds, the ideal `pages x latency / workers`, the ratio to it. Baseline, same
 *    run: a bare client (one login, keyset pages by `fetch`, no database) with the same
 *    workers and pages.
 *
 *   npm run bench:sync -- [--offers 30000] [--items 20000] [--latency-ms 100] [--page-size 100] [--runs 3] [--skip-emag] [--skip-sap]
 *
 * The last line is one JSON object (bench/README.md, "The last line").
 */
import { parseArgs } from "node:util";
import pg from "pg";
import type { LocalServices } from "../dev/services.js";
import { maxInWindow } from "../dev/sim/request-log.js";
import { out, round, seconds, startBenchServices, median } from "./report.js";

const { values } = parseArgs({
  options: {
    offers: { type: "string", default: "30000" },
    items: { type: "string", default: "20000" },
    "latency-ms": { type: "string", default: "100" },
    "page-size": { type: "string", default: "100" },
    "skip-emag": { type: "boolean", default: false },
    "skip-sap": { type: "boolean", default: false },
    /** SAP runs per worker count (the catalogue emptied between them); the figures are their medians. */
    runs: { type: "string", default: "3" },
  },
});
const runs = Math.max(1, Number(values.runs));
const offers = Number(values.offers);
const items = Number(values.items);
const latencyMs = Number(values["latency-ms"]);
const pageSize = Number(values["page-size"]);
const EMAG_LIMIT = { perSecond: 3, perMinute: 180 };
const RUN_TIMEOUT_MS = 30 * 60_000;

interface RunRecord {
  id: string;
  status: string;
  reason: string | null;
  seen_unique: number | null;
  pages: { read: number };
  requests: { total: number; throttled_429: number; retries: number; logins: number; rate_per_s: number | null };
  started_at: string;
  finished_at: string | null;
  duration_s: number;
}

async function control(base: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${base}${path}`, body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (response.status !== 200) throw new Error(`${path} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

async function runSync(services: LocalServices, source: "emag" | "sap", body: unknown): Promise<{ record: RunRecord; wallS: number }> {
  const headers = { authorization: `Bearer ${services.apiToken}`, "content-type": "application/json" };
  const started = performance.now();
  const response = await fetch(`${services.baseUrl}/api/sync/${source}`, { method: "POST", headers, body: JSON.stringify(body) });
  if (response.status !== 202) throw new Error(`POST /api/sync/${source} answered ${response.status}: ${await response.text()}`);
  const { status_url } = (await response.json()) as { status_url: string };
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  for (;;) {
    const record = (await (await fetch(`${services.baseUrl}${status_url}`, { headers })).json()) as RunRecord;
    if (!["queued", "planning", "running"].includes(record.status)) return { record, wallS: seconds(started) };
    if (Date.now() > deadline) throw new Error(`${source} run still ${record.status} after ${RUN_TIMEOUT_MS / 60_000} min`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function benchEmag() {
  out(`eMAG: ${offers.toLocaleString("en-US")} offers at the simulator's real ${EMAG_LIMIT.perSecond} req/s and ${EMAG_LIMIT.perMinute}/min, 2 workers sharing the account`);
  const { services, lastLines } = await startBenchServices(2, {}, { offers, items: 10, ratePerSecond: EMAG_LIMIT.perSecond, ratePerMinute: EMAG_LIMIT.perMinute });
  try {
    const sims = services.simulators;
    if (!sims) throw new Error("no simulators");
    await control(sims.emag, "/__sim/config", { rateLimit: { enabled: true, other: EMAG_LIMIT } });
    const { record, wallS } = await runSync(services, "emag", {}).catch((error: unknown) => {
      out(lastLines().join("\n"));
      throw error;
    });
    const { requests } = (await control(sims.emag, "/__sim/requests")) as { requests: Array<{ at: number; status: number }> };
    const times = requests.map((r) => r.at).sort((a, b) => a - b);
    const spanS = ((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1000;
    // n requests at an even pace span n - 1 intervals.
    const simRate = spanS > 0 ? (times.length - 1) / spanS : 0;
    const fraction = simRate / EMAG_LIMIT.perSecond;
    const seen429 = requests.filter((r) => r.status === 429).length;
    const busiestSecond = maxInWindow(times, 1_000);
    const busiestMinute = maxInWindow(times, 60_000);
    out(`  run ${record.status}: ${record.seen_unique} unique offers, ${record.pages.read} pages, wall ${round(wallS, 1)} s`);
    out(`  ${"".padEnd(34)}${"figure".padStart(12)}${"baseline (the limit)".padStart(24)}`);
    out(`  ${"request rate seen by the simulator".padEnd(34)}${`${round(simRate, 3)}/s`.padStart(12)}${`${EMAG_LIMIT.perSecond}/s`.padStart(24)}`);
    out(`  ${"fraction of the limit".padEnd(34)}${round(fraction, 3).toString().padStart(12)}${"1".padStart(24)}`);
    out(`  ${"429s in the run record".padEnd(34)}${String(record.requests.throttled_429).padStart(12)}${"0".padStart(24)}`);
    out(`  ${"429s the simulator sent".padEnd(34)}${String(seen429).padStart(12)}${"0".padStart(24)}`);
    out(`  ${"most requests in any 1 s".padEnd(34)}${String(busiestSecond).padStart(12)}${String(EMAG_LIMIT.perSecond).padStart(24)}`);
    out(`  ${"most requests in any 60 s".padEnd(34)}${String(busiestMinute).padStart(12)}${String(EMAG_LIMIT.perMinute).padStart(24)}`);
    out(`  ${"requests (record / simulator)".padEnd(34)}${`${record.requests.total} / ${requests.length}`.padStart(12)}`);
    return {
      emag_offers: offers,
      emag_status: record.status,
      emag_seconds: round(wallS, 2),
      emag_requests: requests.length,
      emag_rate_per_s: round(simRate, 3),
      emag_rate_fraction: round(fraction, 3),
      emag_record_rate_per_s: record.requests.rate_per_s,
      emag_429_in_run_record: record.requests.throttled_429,
      emag_429_seen_by_simulator: seen429,
      emag_max_requests_in_1s: busiestSecond,
      emag_max_requests_in_60s: busiestMinute,
    };
  } finally {
    await services.stop();
  }
}

/** The baseline: the same keyset pages with a bare client, no engine, no database. */
async function bareSapClient(sapUrl: string, workers: number): Promise<number> {
  const root = `${sapUrl}/b1s/v1`;
  const login = await fetch(`${root}/Login`, { method: "POST", body: JSON.stringify({ CompanyDB: "SBODEMO", UserName: "manager", Password: "sim-password" }) });
  const cookie = login.headers
    .getSetCookie()
    .map((header) => header.split(";")[0])
    .join("; ");
  const get = async (query: string) => (await fetch(`${root}/Items?${query}`, { headers: { cookie, "b1s-pagesize": String(pageSize) } })).json() as Promise<{ value: Array<{ ItemCode: string }> }>;
  const started = performance.now();
  const cuts: Array<string | null> = [null];
  for (let i = 1; i < workers; i++) {
    const page = await get(`$select=ItemCode&$orderby=ItemCode&$skip=${Math.floor((i * items) / workers) - 1}&$top=1`);
    cuts.push(page.value[0]?.ItemCode ?? null);
  }
  cuts.push(null);
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      let after = cuts[w] ?? null;
      const until = cuts[w + 1] ?? null;
      for (;;) {
        const filters = [after ? `ItemCode gt '${after}'` : null, until ? `ItemCode le '${until}'` : null].filter(Boolean).join(" and ");
        const page = await get(`$select=ItemCode,ItemName,QuantityOnStock,Valid,Frozen,ItemPrices,UpdateDate&$orderby=ItemCode&$top=${pageSize}${filters ? `&$filter=${encodeURIComponent(filters)}` : ""}`);
        if (page.value.length === 0) break;
        after = page.value.at(-1)?.ItemCode ?? null;
        if (page.value.length < pageSize) break;
      }
    }),
  );
  return seconds(started);
}

/** `runs` full SAP runs on one set of services with `workers`, each on an emptied catalogue; medians. */
async function benchSap(workers: number) {
  const { services, lastLines } = await startBenchServices(
    2,
    { DROPFLOW_SYNC_SAP_WORKERS: String(workers), DROPFLOW_SYNC_SAP_PAGE_SIZE: String(pageSize) },
    { offers: 10, items },
  );
  try {
    const sims = services.simulators;
    if (!sims) throw new Error("no simulators");
    await control(sims.sap, "/__sim/config", { latency: { baseMs: latencyMs } });
    const walls: number[] = [];
    const bares: number[] = [];
    let record: RunRecord | undefined;
    for (let run = 0; run < runs; run++) {
      const client = new pg.Client({ connectionString: services.databaseUrl });
      await client.connect();
      await client.query("truncate catalogue_items");
      await client.end();
      const measured = await runSync(services, "sap", { mode: "full" }).catch((error: unknown) => {
        out(lastLines().join("\n"));
        throw error;
      });
      if (measured.record.status !== "completed") throw new Error(`SAP run ${measured.record.status}: ${measured.record.reason}`);
      record = measured.record;
      walls.push(measured.wallS);
      bares.push(await bareSapClient(sims.sap, workers));
    }
    return { record: record as RunRecord, wallS: median(walls), bareS: median(bares), walls };
  } finally {
    await services.stop();
  }
}

async function main(): Promise<void> {
  const figures: Record<string, unknown> = { bench: "sync" };
  if (!values["skip-emag"]) Object.assign(figures, await benchEmag());
  if (!values["skip-sap"]) {
    const pages = Math.ceil(items / pageSize);
    out(`\nSAP: ${items.toLocaleString("en-US")} items, ${pageSize} a page (${pages} pages), ${latencyMs} ms a request; median of ${runs} runs each`);
    const five = await benchSap(5);
    const one = await benchSap(1);
    const ideal5 = (pages * latencyMs) / 5 / 1000;
    const ideal1 = (pages * latencyMs) / 1000;
    out(`  ${"".padEnd(12)}${"status".padStart(11)}${"seconds".padStart(10)}${"ideal".padStart(9)}${"ratio".padStart(8)}${"bare client".padStart(13)}${"requests".padStart(10)}`);
    for (const [label, run, ideal] of [
      ["5 workers", five, ideal5],
      ["1 worker", one, ideal1],
    ] as const) {
      out(
        `  ${label.padEnd(12)}${run.record.status.padStart(11)}${round(run.wallS, 2).toString().padStart(10)}${round(ideal, 2).toString().padStart(9)}` +
          `${round(run.wallS / ideal, 2).toString().padStart(8)}${round(run.bareS, 2).toString().padStart(13)}${String(run.record.requests.total).padStart(10)}`,
      );
    }
    Object.assign(figures, {
      sap_items: items,
      sap_page_size: pageSize,
      sap_latency_ms: latencyMs,
      sap_pages: pages,
      sap_status_5_workers: five.record.status,
      sap_status_1_worker: one.record.status,
      sap_seconds_5_workers: round(five.wallS, 2),
      sap_seconds_1_worker: round(one.wallS, 2),
      sap_ideal_seconds: round(ideal5, 2),
      sap_ideal_seconds_1_worker: round(ideal1, 2),
      sap_ratio_to_ideal: round(five.wallS / ideal5, 2),
      sap_ratio_to_ideal_1_worker: round(one.wallS / ideal1, 2),
      sap_bare_client_seconds_5_workers: round(five.bareS, 2),
      sap_bare_client_seconds_1_worker: round(one.bareS, 2),
      sap_logins: five.record.requests.logins,
      sap_runs: runs,
      sap_seconds_each_5_workers: five.walls.map((wall) => round(wall, 2)),
      sap_seconds_each_1_worker: one.walls.map((wall) => round(wall, 2)),
    });
  }
  const targets: Record<string, boolean> = {};
  if (typeof figures.emag_rate_fraction === "number") {
    targets.emag_rate_at_least_0_9 = figures.emag_rate_fraction >= 0.9;
    targets.emag_no_429_in_run_record = figures.emag_429_in_run_record === 0;
  }
  if (typeof figures.sap_ratio_to_ideal === "number") targets.sap_within_1_5x_of_ideal = figures.sap_ratio_to_ideal <= 1.5;
  out(JSON.stringify({ ...figures, targets }));
}

await main();
