/**
 * The log store sink against real Postgres: searchable records only, in batches; and
 * a flood (100,000 WARN lines from 50 concurrent writers) against a log store held
 * up by a table lock: every write stays cheap, the buffer stays within its capacity,
 * and the records missing from the store are exactly the ones it counted as dropped.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type DatabaseHandle, openDatabase, queryRows } from "../../lib/db/client.js";
import { addLogSink, configureLogging, logger } from "../../lib/log/index.js";
import { createLogStoreSink } from "../../lib/logs/sink.js";
import { insertLogRecords, searchLogs } from "../../lib/logs/store.js";
import { createTestDatabase, describePostgres, type TestDatabase } from "../support/databases.js";

describePostgres("the log store sink", () => {
  let database: TestDatabase;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    database = await createTestDatabase();
    handle = await openDatabase({ driver: "pg", url: database.url });
    configureLogging({ level: "info", format: "json", stdout: false });
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });

  it("stores WARN and above and lifecycle events, and finds them by correlation id, job and text", async () => {
    const sink = createLogStoreSink({ writeBatch: (records) => insertLogRecords(handle.db, records) });
    const remove = addLogSink(sink);
    try {
      const log = logger("search-test");
      log.info("ordinary line, not stored", { correlation_id: "corr-1" });
      log.info("chunk completed", { event: "chunk_completed", correlation_id: "corr-1", job_id: "job-1" });
      log.warn("retrying a page", { correlation_id: "corr-1", page: 3 });
      log.error("nul\u0000 in a message", { correlation_id: "corr-2" });
      await sink.flush();
    } finally {
      remove();
    }
    const byCorrelation = await searchLogs(handle.db, { correlation_id: "corr-1", limit: 10 });
    expect(byCorrelation.records.map((r) => r.msg)).toEqual(["chunk completed", "retrying a page"]);
    expect(byCorrelation.records[1]?.fields).toMatchObject({ page: 3 });
    expect((await searchLogs(handle.db, { job_id: "job-1", limit: 10 })).records).toHaveLength(1);
    expect((await searchLogs(handle.db, { level: "error", limit: 10 })).records.map((r) => r.msg)).toEqual(["nul in a message"]);
    expect((await searchLogs(handle.db, { q: "page", limit: 10 })).records.map((r) => r.msg)).toEqual(["retrying a page"]);
  });

  it("a flood against a stalled store: writes stay cheap, the buffer bounded, drops counted exactly", { timeout: 120_000 }, async () => {
    await handle.db.execute(sql`truncate log_records`);
    const capacity = 5_000;
    let droppedReported = 0;
    const sink = createLogStoreSink({
      writeBatch: (records) => insertLogRecords(handle.db, records),
      capacity,
      onDropped: (count) => (droppedReported += count),
    });
    const remove = addLogSink(sink);
    // Another session holds the table: every insert waits until it lets go.
    const holder = await openDatabase({ driver: "pg", url: database.url });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const holding = holder.db.transaction(async (tx) => {
      await tx.execute(sql`lock table log_records in access exclusive mode`);
      await released;
    });
    const log = logger("flood");
    const total = 100_000;
    const writers = 50;
    const slowest: number[] = [];
    let maxBuffered = 0;
    try {
      await Promise.all(
        Array.from({ length: writers }, async (_, writer) => {
          for (let i = 0; i < total / writers; i++) {
            const started = performance.now();
            log.warn("flood line", { correlation_id: `flood-${writer}`, i });
            slowest.push(performance.now() - started);
            maxBuffered = Math.max(maxBuffered, sink.stats().buffered);
            if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
          }
        }),
      );
      expect(maxBuffered).toBeLessThanOrEqual(capacity);
      // A log call never waits for the store: the slowest of 100,000 is still a fraction of a millisecond-scale call.
      slowest.sort((a, b) => a - b);
      expect(slowest[Math.floor(slowest.length * 0.99)]).toBeLessThan(5);
    } finally {
      release();
      await holding;
      await holder.close();
    }
    await sink.flush();
    remove();
    const [row] = await queryRows<{ n: number }>(handle.db, sql`select count(*)::int as n from log_records where msg = 'flood line'`);
    const stats = sink.stats();
    expect(stats.dropped).toBeGreaterThan(0);
    expect((row?.n ?? 0) + stats.dropped).toBe(total);
    expect(droppedReported).toBe(stats.dropped);
    expect(stats.buffered).toBe(0);
  });
});
