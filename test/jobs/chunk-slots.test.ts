/**
 * DROPFLOW_CHUNK_CONCURRENCY through the real delivery path: the dev server with its
 * QStash stand-in delivering a job's chunks (16 in flight by flow control) to one
 * process that may work on only two at once. Each chunk's working interval comes from
 * its `chunk_completed` log record (end time and duration).
 */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../../dev/server.js";
import { addLogSink, configureLogging, memorySink } from "../../lib/log/index.js";
import { createTestDatabase, type TestDatabase } from "../support/databases.js";

describe("chunk slots per process", () => {
  let server: DevServer;
  let database: TestDatabase;
  const logs = memorySink();

  beforeAll(async () => {
    database = await createTestDatabase();
    server = await startDevServer({
      env: {
        DATABASE_URL: database.url,
        DROPFLOW_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), "dropflow-slots-")),
        DROPFLOW_API_TOKENS: "slots-test-token-0123456789",
        DROPFLOW_TEST_JOB_KINDS: "1",
        DROPFLOW_CHUNK_CONCURRENCY: "2",
        LOG_LEVEL: "info",
        PORT: "0",
      },
      queueTimeScale: 0.0002,
    });
    configureLogging({ level: "info", format: "json", stdout: false });
    addLogSink(logs);
  });

  afterAll(async () => {
    await server?.close();
    await database?.drop();
  });

  it("never works on more chunks at once than it has slots, and still finishes every chunk", async () => {
    const engine = await server.runtime.engine();
    const job = await engine.createJob("test-rows", { chunks: 10, rows_per_chunk: 5, slow_ms: 120 }, "slots-test");
    const until = Date.now() + 30_000;
    let done = await engine.requireJob(job.id);
    while (!["completed", "completed_with_errors", "failed"].includes(done.status)) {
      if (Date.now() > until) throw new Error(`job still ${done.status}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      done = await engine.requireJob(job.id);
    }
    expect(done.status).toBe("completed");
    expect(done.counters).toMatchObject({ chunks_done: 10, rows_inserted: 50 });

    const intervals = logs.records
      .filter((record) => record.event === "chunk_completed" && record.job_id === job.id)
      .map((record) => {
        const end = Date.parse(record.time);
        return { start: end - (record.duration_ms ?? 0), end };
      });
    expect(intervals).toHaveLength(10);
    // Most chunks working at one instant (a 1 ms tolerance for the rounding of log times).
    const most = Math.max(
      ...intervals.map((at) => intervals.filter((other) => other.start < at.start - 1 && other.end > at.start + 1).length + 1),
    );
    expect(most).toBeLessThanOrEqual(2);
    // Ten 120 ms chunks two at a time take at least five rounds.
    const span = Math.max(...intervals.map((i) => i.end)) - Math.min(...intervals.map((i) => i.start));
    expect(span).toBeGreaterThanOrEqual(5 * 120 - 10);
  });
});
