/**
 * The job engine end to end, in process: the dev server with its embedded QStash
 * stand-in delivering signed messages over HTTP to api/tasks, real Postgres, and
 * the job state store both in memory and as Upstash Redis on a real redis-server.
 * A test-only job kind (test-rows) writes rows and counts inserted / updated /
 * unchanged, so any double-counted delivery shows in the counters.
 */
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { DevServer } from "../../dev/server.js";
import { startUpstashBridge } from "../../dev/upstash-redis-bridge.js";
import { queryRows } from "../../lib/db/client.js";
import { type JobEngine, type JobRow, WorkerCrash } from "../../lib/jobs/index.js";
import { addLogSink, configureLogging, memorySink } from "../../lib/log/index.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { waitForStatus } from "../support/job-status.js";

const API_TOKEN = "engine-test-token-0123456789";

interface Adapter {
  name: string;
  kvEnv(): Promise<{ env: Record<string, string>; close(): Promise<void> }>;
}

const adapters: Adapter[] = [
  { name: "memory KV", kvEnv: async () => ({ env: {}, close: async () => undefined }) },
  {
    name: "Upstash KV on real Redis",
    kvEnv: async () => {
      const redis = inject("redis");
      if (!redis.available) throw new Error(`redis unavailable: ${redis.reason}`);
      const token = randomBytes(16).toString("hex");
      const bridge = await startUpstashBridge({ redisHost: redis.host, redisPort: redis.port, token });
      return { env: { UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: token }, close: () => bridge.close() };
    },
  },
];

describe.each(adapters)("job engine ($name)", (adapter) => {
  let app: AppServer;
  let server: DevServer;
  let engine: JobEngine;
  let closeKv: () => Promise<void>;
  const logs = memorySink();

  beforeAll(async () => {
    const kv = await adapter.kvEnv();
    closeKv = kv.close;
    app = await startAppServer(
      API_TOKEN,
      {
        DROPFLOW_TEST_JOB_KINDS: "1",
        DROPFLOW_MAX_DURATION_S: "2",
        DROPFLOW_DEADLINE_MARGIN_S: "0.2",
        DROPFLOW_LEASE_S: "2.5",
        DROPFLOW_STALL_S: "1",
        // These tests are about concurrency itself (200 chunks at once): no per-process bound.
        DROPFLOW_CHUNK_CONCURRENCY: "1000",
        LOG_LEVEL: "info",
        ...kv.env,
      },
      { queueTimeScale: 0.0002 },
    );
    server = app.server;
    configureLogging({ level: "info", format: "json", stdout: false });
    addLogSink(logs);
    engine = await server.runtime.engine();
  });

  afterAll(async () => {
    await app?.close();
    await closeKv?.();
  });

  const db = async () => (await server.runtime.database()).db;

  const waitForJob = (id: string, ms = 30_000): Promise<JobRow> =>
    waitForStatus(() => engine.requireJob(id), { timeoutMs: ms, what: `job ${id} to end` });

  const waitForJobStatus = (id: string, status: string): Promise<JobRow> =>
    waitForStatus(() => engine.requireJob(id), { until: (job) => job.status === status, timeoutMs: 10_000, what: `job ${id} to be ${status}` });

  async function rowsOf(job: JobRow): Promise<number> {
    const [row] = await queryRows<{ n: number }>(
      await db(),
      sql`select count(*)::int as n from engine_test_rows where job_seq = ${job.seq}`,
    );
    return row?.n ?? 0;
  }

  /** Each test writes its own id range (offset), so runs never touch each other's rows. */
  let nextOffset = 0;
  const offsetFor = (chunks: number, perChunk: number) => {
    const offset = nextOffset;
    nextOffset += chunks * perChunk + 1000;
    return offset;
  };

  async function create(params: Record<string, unknown>): Promise<JobRow> {
    return engine.createJob("test-rows", params, `test-${randomBytes(4).toString("hex")}`);
  }

  it("runs a job through the queue to completed with exact counters", async () => {
    const job = await create({ chunks: 12, rows_per_chunk: 10, offset: offsetFor(12, 10) });
    const done = await waitForJob(job.id);
    expect(done.status).toBe("completed");
    expect(done.counters).toMatchObject({
      rows_done: 120,
      rows_failed: 0,
      chunks_done: 12,
      chunks_failed: 0,
      rows_inserted: 120,
      rows_updated: 0,
      rows_unchanged: 0,
    });
    expect(await rowsOf(done)).toBe(120);
    const view = await engine.view(done);
    expect(view.progress).toMatchObject({ percent: 100, rows: { total: 120, done: 120, failed: 0 } });
  });

  it("gives the counters and rows of one delivery when every message is delivered 2-3 times, out of order and at once", async () => {
    server.queue?.pause();
    const offset = offsetFor(20, 5);
    const job = await create({ chunks: 20, rows_per_chunk: 5, offset });
    // Let the plan through, then hold the chunk messages.
    server.queue?.resume();
    await waitForJobStatus(job.id, "running");
    server.queue?.pause();
    const deliveries: Promise<unknown>[] = [];
    for (let chunk = 19; chunk >= 0; chunk--) {
      // Direct duplicate deliveries: twice at the same moment, and a third for every third chunk.
      deliveries.push(engine.handleChunk(job.id, chunk, { messageId: `dup-a-${chunk}`, retried: 0 }));
      deliveries.push(engine.handleChunk(job.id, chunk, { messageId: `dup-b-${chunk}`, retried: 0 }));
      if (chunk % 3 === 0) deliveries.push(engine.handleChunk(job.id, chunk, { messageId: `dup-c-${chunk}`, retried: 1 }));
    }
    await Promise.all(deliveries);
    server.queue?.resume(); // the queue's own copies arrive late, after completion
    const done = await waitForJob(job.id);
    await server.queue?.idle();
    expect(done.status).toBe("completed");
    expect(done.counters).toMatchObject({ rows_done: 100, chunks_done: 20, rows_inserted: 100, rows_updated: 0, rows_unchanged: 0 });
    expect(await rowsOf(done)).toBe(100);
    expect(await engine.handleChunk(job.id, 3, { messageId: "late", retried: 0 })).toBe("job_finished");
  });

  it("finalises exactly once when 200 chunks complete concurrently", async () => {
    server.queue?.pause();
    const job = await engine.createJob("noop", { chunks: 200 }, "finalise-once");
    server.queue?.resume();
    await waitForJobStatus(job.id, "running");
    server.queue?.pause();
    await Promise.all(
      Array.from({ length: 200 }, (_, chunk) => engine.handleChunk(job.id, chunk, { messageId: `c${chunk}`, retried: 0 })),
    );
    server.queue?.resume();
    const done = await waitForJob(job.id);
    await server.queue?.idle();
    expect(done.status).toBe("completed");
    expect(done.counters).toMatchObject({ chunks_done: 200, rows_done: 200 });
    const finalised = logs.records.filter((r) => r.event === "job_finalised" && r.job_id === job.id);
    expect(finalised).toHaveLength(1);
  });

  it("recovers a worker that died between its commit and Redis: same counters as a clean run", async () => {
    let crashed = false;
    server.runtime.setFaults({
      afterCommit: (_jobId, chunk) => {
        if (chunk === 4 && !crashed) {
          crashed = true;
          throw new WorkerCrash();
        }
      },
    });
    try {
      const offset = offsetFor(8, 10);
      const job = await create({ chunks: 8, rows_per_chunk: 10, offset });
      const done = await waitForJob(job.id);
      expect(crashed).toBe(true);
      // Recovered by the watchdog from job_chunks, not by a second run of the chunk (the
      // counts below). It logs that just after the catch-up that ends the job: wait for it.
      await expect.poll(() => logs.records.some((r) => r.event === "state_restored" && r.job_id === job.id)).toBe(true);
      expect(done.status).toBe("completed");
      expect(done.counters).toMatchObject({
        rows_done: 80,
        chunks_done: 8,
        rows_inserted: 80,
        rows_updated: 0,
        rows_unchanged: 0,
      });
      expect(await rowsOf(done)).toBe(80);
    } finally {
      server.runtime.setFaults(undefined);
    }
  });

  it("recovers deliveries the queue dropped, and leaves no job running", async () => {
    // Hold the queue, plan directly, then lose the next 4 deliveries: the (now
    // redundant) plan message and three chunk messages.
    server.queue?.pause();
    const job = await create({ chunks: 6, rows_per_chunk: 3, offset: offsetFor(6, 3) });
    expect(await engine.handlePlan(job.id)).toBe("planned");
    server.queue?.dropNext(4);
    server.queue?.resume();
    const done = await waitForJob(job.id);
    expect(done.status).toBe("completed");
    expect(done.counters).toMatchObject({ chunks_done: 6, rows_inserted: 18, rows_unchanged: 0 });
    expect(logs.records.some((r) => r.event === "chunks_republished" && r.job_id === job.id)).toBe(true);
    const running = await fetch(`${server.url.replace("localhost", "127.0.0.1")}/api/jobs?status=running`, {
      headers: { authorization: `Bearer ${API_TOKEN}` },
    });
    expect(((await running.json()) as { jobs: unknown[] }).jobs).toEqual([]);
  });

  it("re-publishes a plan whose message was lost", async () => {
    server.queue?.dropNext(1);
    const job = await create({ chunks: 2, rows_per_chunk: 1, offset: offsetFor(2, 1) });
    const done = await waitForJob(job.id);
    expect(done.status).toBe("completed");
    expect(logs.records.some((r) => r.event === "plan_republished" && r.job_id === job.id)).toBe(true);
  });

  it("ends completed_with_errors with the reason when a chunk fails permanently", async () => {
    const job = await create({ chunks: 5, rows_per_chunk: 2, fail_chunks: [3], offset: offsetFor(5, 2) });
    const done = await waitForJob(job.id);
    expect(done.status).toBe("completed_with_errors");
    expect(done.lastError).toBe("chunk 3: chunk 3 is marked to fail");
    expect(done.counters).toMatchObject({ chunks_done: 4, chunks_failed: 1, rows_done: 8, rows_failed: 2 });
  });

  it("fails a chunk the queue gave up on, and re-runs it on retry", async () => {
    // Fails its first 4 deliveries: the first and its 3 retries, then the failure callback.
    const job = await create({ chunks: 3, rows_per_chunk: 2, flaky_chunks: [1], flaky_attempts: 4, offset: offsetFor(3, 2) });
    const failed = await waitForJob(job.id);
    expect(failed.status).toBe("completed_with_errors");
    expect(failed.lastError).toMatch(/^chunk 1: the queue gave up after 4 attempt\(s\); last answer: HTTP 500/);
    expect(await engine.retry(job.id)).toBe(1);
    const retried = await waitForJob(job.id);
    expect(retried.status).toBe("completed");
    expect(retried.counters).toMatchObject({ chunks_done: 3, chunks_failed: 0, rows_done: 6, rows_inserted: 6 });
  });

  it("settles a cancelled job: what committed before the cancel is counted, nothing commits after it", async () => {
    const job = await create({ chunks: 30, rows_per_chunk: 1, slow_ms: 50, offset: offsetFor(30, 1) });
    await waitForJobStatus(job.id, "running");
    // Let a few chunks commit and others be mid-flight.
    const until = Date.now() + 10_000;
    while ((await rowsOf(job)) < 3 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    const cancelled = await engine.cancel(job.id);
    expect(cancelled.status).toBe("cancelled");
    const atCancel = await rowsOf(cancelled);
    expect(atCancel).toBeGreaterThanOrEqual(3);
    expect(atCancel).toBeLessThan(30);
    // The final counters are those of the chunks that committed, and they are the rows written.
    expect(cancelled.counters).toMatchObject({ rows_done: atCancel, rows_inserted: atCancel, chunks_done: atCancel });
    expect(cancelled.counters.chunks_cancelled).toBe(30 - atCancel);
    expect(await engine.handleChunk(job.id, 29, { messageId: "after-cancel", retried: 0 })).toBe("cancelled");
    await server.queue?.idle();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Chunks that were working when the cancel came rolled back: not one more row.
    expect(await rowsOf(cancelled)).toBe(atCancel);
    const after = await engine.requireJob(job.id);
    expect(after.status).toBe("cancelled");
    expect(after.counters).toEqual(cancelled.counters);
    const view = await engine.view(after);
    expect(view.progress).toMatchObject({
      percent: Math.round((1000 * atCancel) / 30) / 10,
      rows: { total: 30, done: atCancel, failed: 0 },
      chunks: { total: 30, done: atCancel, failed: 0, cancelled: 30 - atCancel, running: 0 },
      eta_s: null,
    });
    // Cancelling again answers the same job; the watchdog finds nothing to do.
    expect((await engine.cancel(job.id)).counters).toEqual(cancelled.counters);
  });

  it("a cancel waits for a chunk that is committing, and counts it", async () => {
    const job = await create({ chunks: 2, rows_per_chunk: 1, slow_ms: 1500, offset: offsetFor(2, 1) });
    await waitForJobStatus(job.id, "running");
    // Hold chunk 0's row lock as its commit would, then cancel: the cancel must wait.
    const database = await db();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const holder = database.transaction(async (tx) => {
      await queryRows(tx, sql`select 1 from job_chunks where job_id = ${job.id} and chunk = 0 for update`);
      locked();
      await held;
      await queryRows(
        tx,
        sql`update job_chunks set status = 'done', rows_done = 1, completed_at = now() where job_id = ${job.id} and chunk = 0 and status = 'pending'`,
      );
    });
    // Cancel only once the lock is held: under load the holder's transaction can start late.
    await lockTaken;
    let cancelDone = false;
    const cancelling = engine.cancel(job.id).then((row) => {
      cancelDone = true;
      return row;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const doneWhileLocked = cancelDone;
    // Release before asserting, so a failure cannot leave the lock held and hang the suite's teardown.
    release();
    await holder;
    expect(doneWhileLocked).toBe(false);
    const cancelled = await cancelling;
    expect(cancelled.status).toBe("cancelled");
    const [chunk0] = await queryRows<{ status: string }>(
      database,
      sql`select status from job_chunks where job_id = ${job.id} and chunk = 0`,
    );
    expect(chunk0?.status).toBe("done");
    expect(cancelled.counters.chunks_done ?? 0).toBeGreaterThanOrEqual(1);
  });

  it("re-publishes a throttled chunk after its retry-after, not as a failure, and counts it", async () => {
    const job = await create({
      chunks: 6,
      rows_per_chunk: 2,
      throttle_chunks: [1, 4],
      throttle_attempts: 2,
      throttle_s: 5,
      account: "acme",
      offset: offsetFor(6, 2),
    });
    const done = await waitForJob(job.id);
    expect(done.status).toBe("completed");
    // The counters of a clean run, plus the throttled attempts (2 chunks x 2).
    expect(done.counters).toMatchObject({ rows_done: 12, rows_inserted: 12, chunks_done: 6, chunks_failed: 0, chunks_throttled: 4 });
    expect(await rowsOf(done)).toBe(12);
    const [throttled] = await queryRows<{ publications: number; throttles: number; attempts: number }>(
      await db(),
      sql`select publications, throttles, attempts from job_chunks where job_id = ${job.id} and chunk = 1`,
    );
    // Throttles use up no publication: the watchdog's limit is for lost work only.
    expect(throttled).toMatchObject({ publications: 1, throttles: 2, attempts: 3 });
    // Every delivery of the job went under the account's flow-control key; the retries waited.
    const messages = server.queue?.messages().filter((m) => m.flowControlKey === "upstream-acme") ?? [];
    expect(messages.length).toBe(6 + 4);
    expect(messages.filter((m) => m.notBefore > m.createdAt).length).toBe(4);
    // A duplicate delivery of a throttled chunk after it completed is a no-op.
    expect(await engine.handleChunk(job.id, 1, { messageId: "late-duplicate", retried: 0 })).toBe("job_finished");
  });

  describe("work that grows and continues (the paged kind)", () => {
    const paged = (params: Record<string, unknown>) =>
      engine.createJob("paged", params, `test-${randomBytes(4).toString("hex")}`);
    const chunkRows = async (jobId: string) =>
      queryRows<{ chunk: number; status: string; payload: { branch: number; cursor: number } }>(
        await db(),
        sql`select chunk, status, payload from job_chunks where job_id = ${jobId} order by chunk`,
      );

    it("hands on continuations and adds the branches it finds: every page once, exact counters", async () => {
      // 3 branches x 10 pages x 2 rows; 3 pages per chunk: 4 chunks per branch.
      const job = await paged({ pages: 10, pages_per_chunk: 3, fan_out: 2, rows_per_page: 2, offset: offsetFor(60, 1) });
      const done = await waitForJob(job.id);
      expect(done.status).toBe("completed");
      expect(done.counters).toMatchObject({ rows_done: 60, rows_inserted: 60, rows_updated: 0, rows_unchanged: 0, chunks_done: 12 });
      expect(await rowsOf(done)).toBe(60);
      const chunks = await chunkRows(job.id);
      expect(chunks).toHaveLength(12);
      expect(chunks.every((chunk) => chunk.status === "done")).toBe(true);
      const view = await engine.view(done);
      expect(view.progress).toMatchObject({ percent: 100, total_known: true, chunks: { total: 12, done: 12 } });
      // Duplicate deliveries of a continuation and of a found branch change nothing, add nothing.
      const [continuation, branch] = [chunks.find((c) => c.payload.cursor > 0), chunks.find((c) => c.payload.branch > 0)];
      for (const again of [continuation, branch]) {
        expect(await engine.handleChunk(job.id, again?.chunk ?? -1, { messageId: "dup", retried: 0 })).toBe("job_finished");
      }
      expect(await chunkRows(job.id)).toHaveLength(12);
    });

    it("hands on at its deadline, says its total is unknown while running, and a duplicate delivery mid-run adds nothing", async () => {
      // Each page takes 150 ms and a chunk has under 2 s: chunks hand on before their deadline.
      const job = await paged({ pages: 24, page_ms: 150, rows_per_page: 1, offset: offsetFor(24, 1) });
      await waitForJobStatus(job.id, "running");
      const running = await engine.view(await engine.requireJob(job.id));
      expect(running.progress).toMatchObject({ total_known: false, percent: null, eta_s: null });
      // Deliver the first chunk again while it runs or after: it is leased or done, never added twice.
      const duplicate = await engine.handleChunk(job.id, 0, { messageId: "dup-first", retried: 0 });
      expect(["completed", "leased", "already_done", "recovered", "job_finished"]).toContain(duplicate);
      const done = await waitForJob(job.id);
      expect(done.status).toBe("completed");
      expect(done.counters).toMatchObject({ rows_done: 24, rows_inserted: 24, rows_unchanged: 0 });
      const chunks = await chunkRows(job.id);
      expect(chunks.length).toBeGreaterThan(1);
      // One continuation per chunk but the last, each from where its predecessor stopped.
      for (let k = 1; k < chunks.length; k++) expect(chunks[k]?.payload.cursor).toBeGreaterThan(chunks[k - 1]?.payload.cursor ?? 0);
    });

    it("runs the job-wide step once every chunk is settled, as its own task that may hand on; retry re-runs chunks and step", async () => {
      // Branch 1 fails on its first chunk: the job ends with errors, its step having run.
      const job = await paged({ pages: 4, pages_per_chunk: 2, fan_out: 2, final_step: true, fail_branches: [1], offset: offsetFor(24, 1) });
      const first = await waitForJob(job.id);
      expect(first.status).toBe("completed_with_errors");
      expect(first.counters).toMatchObject({ rows_inserted: 16, chunks_done: 4, chunks_failed: 1 });
      const runs = async () =>
        Number(
          (await queryRows<{ runs: number }>(await db(), sql`select runs from engine_test_steps where job_id = ${job.id}`))[0]?.runs ?? 0,
        );
      // Run twice: once handing on, once done; never by a chunk's worker.
      expect(await runs()).toBe(2);
      expect(await engine.handleStep(job.id)).toBe("skipped"); // a duplicate after the end

      // Retry: the failed chunk runs, hands on its continuation, and the step runs again.
      expect(await engine.retry(job.id)).toBe(1);
      const retried = await waitForJob(job.id);
      expect(retried.status).toBe("completed");
      expect(retried.counters).toMatchObject({ rows_done: 24, rows_inserted: 24, chunks_done: 6, chunks_failed: 0 });
      expect(await rowsOf(retried)).toBe(24);
      expect(await runs()).toBe(3);
    });

    it("fails the job, keeping what its chunks counted, when the queue gives up on its job-wide step", async () => {
      const job = await paged({ pages: 2, pages_per_chunk: 1, step_fails: true, offset: offsetFor(4, 1) });
      const failed = await waitForJob(job.id);
      expect(failed.status).toBe("failed");
      expect(failed.lastError).toMatch(/^the job-wide step failed: the queue gave up after 4 attempt\(s\)/);
      expect(failed.counters).toMatchObject({ rows_done: 4, rows_inserted: 4, chunks_done: 2 });
    });

    it("throttles, cancels and retries like planned chunks", async () => {
      const throttled = await paged({ pages: 4, pages_per_chunk: 1, throttle_first: true, offset: offsetFor(8, 1) });
      const done = await waitForJob(throttled.id);
      expect(done.counters).toMatchObject({ rows_done: 8, rows_inserted: 8, chunks_done: 4, chunks_throttled: 4 });

      const slow = await paged({ pages: 40, pages_per_chunk: 1, page_ms: 100, fan_out: 3, offset: offsetFor(160, 1) });
      const until = Date.now() + 10_000;
      while ((await rowsOf(await engine.requireJob(slow.id))) < 4 && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const cancelled = await engine.cancel(slow.id);
      const atCancel = await rowsOf(cancelled);
      await server.queue?.idle();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await rowsOf(cancelled)).toBe(atCancel);
      expect(cancelled.counters.rows_inserted).toBe(atCancel);
      const left = await chunkRows(slow.id);
      expect(left.filter((chunk) => chunk.status === "pending")).toEqual([]);
      expect(left.some((chunk) => chunk.status === "cancelled")).toBe(true);
    });
  });

  it("leaves a slow chunk that heartbeats alone", async () => {
    // Each chunk takes longer than the stall threshold (1 s) but renews its lease.
    const job = await create({ chunks: 2, rows_per_chunk: 1, slow_ms: 1500, offset: offsetFor(2, 1) });
    const done = await waitForJob(job.id);
    expect(done.status).toBe("completed");
    const republished = logs.records.filter((r) => r.event === "chunks_republished" && r.job_id === job.id);
    expect(republished).toEqual([]);
    expect(done.counters).toMatchObject({ rows_inserted: 2, rows_unchanged: 0 });
  });
});
