/**
 * `npm run bench:logs`: what the searchable-log sink costs a request. Requests arrive
 * at 100 a second for 10 s, each logging 10 WARN lines (1,000 lines a second) and
 * then flushing the sink off its path (what the route wrapper does with `waitUntil`);
 * the figure is the time a request spends in its log calls, with the sink writing to
 * a real Postgres, against the same run without the sink (the baseline: stdout off,
 * so only the logger itself). Also: the records stored, dropped, and the batches.
 *
 *   npm run bench:logs -- [--seconds 10] [--rate 1000]
 *
 * The last line is one JSON object (bench/README.md, "The last line").
 */
import { parseArgs } from "node:util";
import { openDatabase } from "../lib/db/client.js";
import { migrateDatabase } from "../lib/db/migrate.js";
import { addLogSink, configureLogging, logger } from "../lib/log/index.js";
import { createLogStoreSink } from "../lib/logs/sink.js";
import { insertLogRecords } from "../lib/logs/store.js";
import { startPostgres } from "../dev/servers/postgres.js";
import pg from "pg";
import { out, round, median } from "./report.js";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "10" }, rate: { type: "string", default: "1000" } } });
const seconds = Number(values.seconds);
const linesPerSecond = Number(values.rate);
const LINES_PER_REQUEST = 10;
const requestsPerSecond = linesPerSecond / LINES_PER_REQUEST;

const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)] ?? 0;

/** Requests at the set rate; each logs its lines and hands a flush off. The time in its log calls, per request (ms). */
async function drive(flush: (() => Promise<void>) | null): Promise<number[]> {
  const log = logger("bench");
  const perRequest: number[] = [];
  const pending: Array<Promise<void>> = [];
  const total = Math.round(seconds * requestsPerSecond);
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / requestsPerSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const began = performance.now();
    for (let line = 0; line < LINES_PER_REQUEST; line++) log.warn("bench line", { correlation_id: `req-${i}`, line, order: "INV-0001", amount: 125000 });
    perRequest.push(performance.now() - began);
    if (flush) pending.push(flush());
  }
  await Promise.all(pending);
  return perRequest;
}

async function main(): Promise<void> {
  configureLogging({ level: "info", format: "json", stdout: false });
  const postgres = await startPostgres();
  try {
    const admin = new pg.Client({ connectionString: postgres.urlFor("postgres") });
    await admin.connect();
    await admin.query("create database dropflow");
    await admin.end();
    const handle = await openDatabase({ driver: "pg", url: postgres.urlFor("dropflow") });
    await migrateDatabase(handle);
    out(`log sink: ${linesPerSecond} WARN lines a second (${requestsPerSecond} requests of ${LINES_PER_REQUEST}) for ${seconds} s, real Postgres`);

    const baseline = await drive(null);
    const sink = createLogStoreSink({ writeBatch: (records) => insertLogRecords(handle.db, records) });
    const remove = addLogSink(sink);
    const started = performance.now();
    const withSink = await drive(() => sink.flush());
    await sink.flush();
    const drainedS = (performance.now() - started) / 1000;
    remove();
    const stats = sink.stats();
    const { rows } = await handle.db.execute("select count(*)::int as n from log_records") as unknown as { rows: Array<{ n: number }> };
    await handle.close();

    const added = median(withSink) - median(baseline);
    out(`  ${"".padEnd(36)}${"median ms".padStart(11)}${"p99 ms".padStart(9)}`);
    out(`  ${"a request's log calls, with the sink".padEnd(36)}${round(median(withSink), 4).toString().padStart(11)}${round(p99(withSink), 4).toString().padStart(9)}`);
    out(`  ${"baseline: the same without the sink".padEnd(36)}${round(median(baseline), 4).toString().padStart(11)}${round(p99(baseline), 4).toString().padStart(9)}`);
    out(`  added per request: ${round(added, 4)} ms (median); records stored ${rows[0]?.n}, dropped ${stats.dropped}, failed batches ${stats.failedBatches}; all written ${round(drainedS, 1)} s after the first`);
    out(
      JSON.stringify({
        bench: "logs",
        seconds,
        lines_per_s: linesPerSecond,
        requests: withSink.length,
        median_ms_with_sink: round(median(withSink), 4),
        median_ms_baseline: round(median(baseline), 4),
        added_median_ms: round(added, 4),
        p99_ms_with_sink: round(p99(withSink), 4),
        p99_ms_baseline: round(p99(baseline), 4),
        records_stored: rows[0]?.n ?? 0,
        records_dropped: stats.dropped,
      }),
    );
  } finally {
    await postgres.stop();
  }
}

await main();
