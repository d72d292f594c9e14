/**
 * The job state port's contract (lib/kv/job-state.ts), run against both adapters: the
 * in-memory store of embedded mode, and the Upstash adapter through the real
 * `@upstash/redis` client, the local REST bridge and a real redis-server. Leases and
 * TTLs are tens or hundreds of milliseconds, so nothing waits long.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import type { ChunkTally, JobStateSnapshot, LiveJobState, JobStateStore } from "../../lib/kv/job-state.js";
import { createJobStateStore, JobStateMissingError, jobKeys } from "../../lib/kv/index.js";
import { createMemoryJobStateStore } from "../../lib/kv/memory.js";
import { createUpstashJobStateStore } from "../../lib/kv/upstash.js";
import { BRIDGE_TOKEN, describeRedis, keysWithPrefix, redisTest } from "../support/redis-fixtures.js";

interface Harness {
  store: JobStateStore;
  /** A second client of the same state (another function instance); the same store in memory. */
  other: JobStateStore;
  /** A store over the same state whose jobs live `ttlMs`. */
  withTtl(ttlMs: number): JobStateStore;
}

const LONG_LEASE = 60_000;
const SHORT_LEASE = 40;
const PAST_SHORT_LEASE = 90;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const newJobId = () => `job-${randomUUID()}`;
const ok = (rowsDone: number, rowsFailed = 0, counters?: Record<string, number>): ChunkTally => ({
  rowsDone,
  rowsFailed,
  failed: false,
  ...(counters ? { counters } : {}),
});

function jobStateContract(current: () => Harness): void {
  const store = () => current().store;

  async function newJob(chunkTotal = 4, rowTotal = 400): Promise<string> {
    const jobId = newJobId();
    await store().initJob(jobId, { chunkTotal, rowTotal, startedAtMs: 1_700_000_000_123 });
    return jobId;
  }

  test("initJob creates the state with zeroed counters; repeating it changes nothing", async () => {
    const jobId = await newJob(4, 400);
    expect(await store().getJobState(jobId)).toEqual({
      chunkTotal: 4,
      rowTotal: 400,
      startedAtMs: 1_700_000_000_123,
      cancelled: false,
      finalised: false,
      counters: { rows_done: 0, rows_failed: 0, chunks_done: 0, chunks_failed: 0 },
      running: 0,
      attempts: {},
    } satisfies LiveJobState);
    await store().completeChunk(jobId, 0, ok(100));
    await store().initJob(jobId, { chunkTotal: 9, rowTotal: 9, startedAtMs: 9 });
    const state = await store().getJobState(jobId);
    expect(state).toMatchObject({ chunkTotal: 4, rowTotal: 400, startedAtMs: 1_700_000_000_123 });
    expect(state?.counters).toMatchObject({ rows_done: 100, chunks_done: 1 });
  });

  test("a job the store does not know: unknown, null, nothing changes", async () => {
    const jobId = newJobId();
    expect(await store().claimChunk(jobId, 0, "w1", LONG_LEASE)).toEqual({ status: "unknown" });
    expect(await store().getJobState(jobId)).toBeNull();
    expect(await store().getLeases(jobId)).toEqual([]);
    expect(await store().renewLease(jobId, 0, "w1", LONG_LEASE)).toBe(false);
    await expect(store().releaseLease(jobId, 0, "w1")).resolves.toBeUndefined();
    expect(await store().tryFinalise(jobId)).toBe(false);
    await store().cancelJob(jobId);
    await expect(store().completeChunk(jobId, 0, ok(1))).rejects.toBeInstanceOf(JobStateMissingError);
    // None of the above may have created a half-state.
    expect(await store().getJobState(jobId)).toBeNull();
    expect(await store().claimChunk(jobId, 0, "w1", LONG_LEASE)).toEqual({ status: "unknown" });
  });

  test("claim: attempt 1 with a lease; leased to others while live; the owner renews it", async () => {
    const jobId = await newJob();
    const before = Date.now();
    const first = await store().claimChunk(jobId, 1, "w1", LONG_LEASE);
    const after = Date.now();
    expect(first).toMatchObject({ status: "claimed", attempt: 1 });
    if (first.status !== "claimed") throw new Error("unreachable");
    // The store's clock (Redis TIME) is this machine's clock here.
    expect(first.expiresAtMs).toBeGreaterThanOrEqual(before + LONG_LEASE - 1_000);
    expect(first.expiresAtMs).toBeLessThanOrEqual(after + LONG_LEASE + 1_000);

    expect(await current().other.claimChunk(jobId, 1, "w2", LONG_LEASE)).toEqual({
      status: "leased",
      owner: "w1",
      expiresAtMs: first.expiresAtMs,
    });
    await sleep(5);
    const again = await store().claimChunk(jobId, 1, "w1", LONG_LEASE);
    expect(again).toMatchObject({ status: "claimed", attempt: 1 });
    if (again.status !== "claimed") throw new Error("unreachable");
    expect(again.expiresAtMs).toBeGreaterThanOrEqual(first.expiresAtMs);
    expect((await store().getJobState(jobId))?.attempts).toEqual({ 1: 1 });
    // Other chunks are independent.
    expect(await current().other.claimChunk(jobId, 2, "w2", LONG_LEASE)).toMatchObject({
      status: "claimed",
      attempt: 1,
    });
  });

  test("a lease that expired can be claimed again, by anyone: attempt 2, 3", async () => {
    const jobId = await newJob();
    expect(await store().claimChunk(jobId, 0, "w1", SHORT_LEASE)).toMatchObject({ status: "claimed", attempt: 1 });
    await sleep(PAST_SHORT_LEASE);
    expect(await current().other.claimChunk(jobId, 0, "w2", SHORT_LEASE)).toMatchObject({
      status: "claimed",
      attempt: 2,
    });
    await sleep(PAST_SHORT_LEASE);
    // The first owner again, after its lease lapsed: a new attempt, not a renewal.
    expect(await store().claimChunk(jobId, 0, "w1", LONG_LEASE)).toMatchObject({ status: "claimed", attempt: 3 });
    expect((await store().getJobState(jobId))?.attempts).toEqual({ 0: 3 });
  });

  test("renewLease: only the owner of a live lease, and it extends the lease", async () => {
    const jobId = await newJob();
    await store().claimChunk(jobId, 0, "w1", SHORT_LEASE);
    expect(await store().renewLease(jobId, 0, "w2", LONG_LEASE)).toBe(false);
    expect(await store().renewLease(jobId, 0, "w1", LONG_LEASE)).toBe(true);
    await sleep(PAST_SHORT_LEASE);
    // Renewed well past the original short lease: still held.
    expect(await store().claimChunk(jobId, 0, "w2", LONG_LEASE)).toMatchObject({ status: "leased", owner: "w1" });
    const [lease] = await store().getLeases(jobId);
    expect(lease?.expiresAtMs).toBeGreaterThan(Date.now() + LONG_LEASE - 5_000);

    await store().claimChunk(jobId, 1, "w1", SHORT_LEASE);
    await sleep(PAST_SHORT_LEASE);
    expect(await store().renewLease(jobId, 1, "w1", LONG_LEASE)).toBe(false);
    expect(await store().renewLease(jobId, 3, "w1", LONG_LEASE)).toBe(false);
    await store().completeChunk(jobId, 0, ok(1));
    expect(await store().renewLease(jobId, 0, "w1", LONG_LEASE)).toBe(false);
  });

  test("releaseLease: only the owner's release drops the lease; then the chunk is claimed again", async () => {
    const jobId = await newJob();
    await store().claimChunk(jobId, 2, "w1", LONG_LEASE);
    await store().releaseLease(jobId, 2, "w2");
    expect(await store().claimChunk(jobId, 2, "w2", LONG_LEASE)).toMatchObject({ status: "leased", owner: "w1" });
    await store().releaseLease(jobId, 2, "w1");
    expect(await store().getLeases(jobId)).toEqual([]);
    expect(await store().claimChunk(jobId, 2, "w2", LONG_LEASE)).toMatchObject({ status: "claimed", attempt: 2 });
    // w1 lost it: its late release does not take w2's lease away.
    await store().releaseLease(jobId, 2, "w1");
    expect(await store().getLeases(jobId)).toMatchObject([{ chunk: 2, owner: "w2" }]);
  });

  test("claim answers done after completion, cancelled after cancel (done first)", async () => {
    const jobId = await newJob();
    await store().claimChunk(jobId, 0, "w1", LONG_LEASE);
    await store().completeChunk(jobId, 0, ok(10));
    expect(await store().claimChunk(jobId, 0, "w1", LONG_LEASE)).toEqual({ status: "done" });
    expect(await store().claimChunk(jobId, 0, "w2", LONG_LEASE)).toEqual({ status: "done" });
    expect(await store().getLeases(jobId)).toEqual([]);

    await store().claimChunk(jobId, 1, "w1", LONG_LEASE);
    await store().cancelJob(jobId);
    await store().cancelJob(jobId);
    expect(await store().claimChunk(jobId, 1, "w1", LONG_LEASE)).toEqual({ status: "cancelled" });
    expect(await store().claimChunk(jobId, 2, "w2", LONG_LEASE)).toEqual({ status: "cancelled" });
    expect(await store().claimChunk(jobId, 0, "w2", LONG_LEASE)).toEqual({ status: "done" });
    expect((await store().getJobState(jobId))?.cancelled).toBe(true);
    // Work that committed before the cancel still counts.
    expect(await store().completeChunk(jobId, 1, ok(5))).toMatchObject({ newlyCompleted: true, chunksDone: 2 });
  });

  test("growJob raises the totals, never lowers them, and a chunk added is claimable and counted before all complete", async () => {
    const jobId = await newJob(2, 20);
    await store().completeChunk(jobId, 0, ok(10));
    await store().growJob(jobId, { chunkTotal: 3, rowTotal: 25 });
    await store().growJob(jobId, { chunkTotal: 3, rowTotal: 25 }); // a repeat changes nothing
    await store().growJob(jobId, { chunkTotal: 2, rowTotal: 20 }); // a late, smaller one neither
    expect(await store().getJobState(jobId)).toMatchObject({ chunkTotal: 3, rowTotal: 25 });
    expect(await store().claimChunk(jobId, 2, "w1", LONG_LEASE)).toMatchObject({ status: "claimed" });
    expect(await store().completeChunk(jobId, 1, ok(10))).toMatchObject({ allComplete: false, chunkTotal: 3 });
    expect(await store().completeChunk(jobId, 2, ok(5))).toMatchObject({ allComplete: true });
    await store().growJob(newJobId(), { chunkTotal: 9, rowTotal: 9 }); // unknown job: no-op
  });

  test("completeChunk counts a chunk once, however often it is reported", async () => {
    const jobId = await newJob(3, 300);
    await store().claimChunk(jobId, 0, "w1", LONG_LEASE);
    const outcome = ok(90, 10, { orders_inserted: 7 });
    expect(await store().completeChunk(jobId, 0, outcome)).toEqual({
      newlyCompleted: true,
      chunksDone: 1,
      chunksFailed: 0,
      chunkTotal: 3,
      allComplete: false,
    });
    for (let i = 0; i < 2; i++) {
      expect(await current().other.completeChunk(jobId, 0, outcome)).toEqual({
        newlyCompleted: false,
        chunksDone: 1,
        chunksFailed: 0,
        chunkTotal: 3,
        allComplete: false,
      });
    }
    // A different outcome reported later does not replace the first either.
    await store().completeChunk(jobId, 0, ok(1, 1, { orders_inserted: 1000 }));
    expect((await store().getJobState(jobId))?.counters).toEqual({
      rows_done: 90,
      rows_failed: 10,
      chunks_done: 1,
      chunks_failed: 0,
      orders_inserted: 7,
    });
  });

  test("50 concurrent completes of one chunk: exactly one is new", async () => {
    const jobId = await newJob(2, 200);
    const { store: a, other: b } = current();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).completeChunk(jobId, 1, ok(100, 0, { x: 1 }))),
    );
    expect(results.filter((result) => result.newlyCompleted)).toHaveLength(1);
    expect(results.every((result) => result.chunksDone === 1 && !result.allComplete)).toBe(true);
    expect((await a.getJobState(jobId))?.counters).toEqual({
      rows_done: 100,
      rows_failed: 0,
      chunks_done: 1,
      chunks_failed: 0,
      x: 1,
    });
  });

  test("200 chunks completed concurrently: exact counters, one sees allComplete, one finalises", async () => {
    const chunks = 200;
    const jobId = await newJob(chunks, chunks * 10);
    const { store: a, other: b } = current();
    const results = await Promise.all(
      Array.from({ length: chunks }, (_, chunk) => {
        const failed = chunk % 10 === 0;
        const outcome: ChunkTally = failed
          ? { rowsDone: 0, rowsFailed: 10, failed: true }
          : { rowsDone: 9, rowsFailed: 1, failed: false, counters: { orders: 9, refunds: chunk % 2 } };
        return (chunk % 2 === 0 ? a : b).completeChunk(jobId, chunk, outcome);
      }),
    );
    expect(results.every((result) => result.newlyCompleted)).toBe(true);
    const last = results.filter((result) => result.allComplete);
    expect(last).toEqual([
      { newlyCompleted: true, chunksDone: 180, chunksFailed: 20, chunkTotal: 200, allComplete: true },
    ]);
    // Exactly one result saw each count from 1 to 200.
    expect(new Set(results.map((result) => result.chunksDone + result.chunksFailed)).size).toBe(chunks);
    expect((await a.getJobState(jobId))?.counters).toEqual({
      rows_done: 180 * 9,
      rows_failed: 180 + 20 * 10,
      chunks_done: 180,
      chunks_failed: 20,
      orders: 180 * 9,
      refunds: 100,
    });

    const finalisers = await Promise.all(
      Array.from({ length: chunks }, (_, i) => (i % 2 === 0 ? a : b).tryFinalise(jobId)),
    );
    expect(finalisers.filter(Boolean)).toHaveLength(1);
    expect(await a.tryFinalise(jobId)).toBe(false);
    expect((await b.getJobState(jobId))?.finalised).toBe(true);
  });

  test("failed chunks count as chunks_failed and rows_failed, and are complete", async () => {
    const jobId = await newJob(2, 20);
    await store().claimChunk(jobId, 0, "w1", LONG_LEASE);
    expect(await store().completeChunk(jobId, 0, { rowsDone: 0, rowsFailed: 10, failed: true })).toEqual({
      newlyCompleted: true,
      chunksDone: 0,
      chunksFailed: 1,
      chunkTotal: 2,
      allComplete: false,
    });
    expect(await store().claimChunk(jobId, 0, "w2", LONG_LEASE)).toEqual({ status: "done" });
    expect(await store().completeChunk(jobId, 0, ok(10))).toMatchObject({ newlyCompleted: false, chunksFailed: 1 });
    expect(await store().completeChunk(jobId, 1, ok(7, 3))).toEqual({
      newlyCompleted: true,
      chunksDone: 1,
      chunksFailed: 1,
      chunkTotal: 2,
      allComplete: true,
    });
    expect((await store().getJobState(jobId))?.counters).toEqual({
      rows_done: 7,
      rows_failed: 13,
      chunks_done: 1,
      chunks_failed: 1,
    });
  });

  test("custom counters are summed; the standard names and non-integers are refused", async () => {
    const jobId = await newJob(3, 30);
    await store().completeChunk(jobId, 0, ok(10, 0, { orders_inserted: 4, orders_updated: 6 }));
    await store().completeChunk(jobId, 1, ok(10, 0, { orders_inserted: 5, adjustment: -2 }));
    await store().completeChunk(jobId, 2, ok(10, 0, {}));
    expect((await store().getJobState(jobId))?.counters).toEqual({
      rows_done: 30,
      rows_failed: 0,
      chunks_done: 3,
      chunks_failed: 0,
      orders_inserted: 9,
      orders_updated: 6,
      adjustment: -2,
    });
    const other = await newJob();
    await expect(store().completeChunk(other, 0, ok(1, 0, { rows_done: 5 }))).rejects.toThrow(TypeError);
    await expect(store().completeChunk(other, 0, ok(1, 0, { x: 1.5 }))).rejects.toThrow(TypeError);
    await expect(store().completeChunk(other, 0, ok(-1))).rejects.toThrow(TypeError);
    expect((await store().getJobState(other))?.counters.chunks_done).toBe(0);
  });

  test("chunks outside 0..chunkTotal-1 are refused", async () => {
    const jobId = await newJob(4);
    await expect(store().claimChunk(jobId, 4, "w1", LONG_LEASE)).rejects.toThrow(RangeError);
    await expect(store().completeChunk(jobId, 7, ok(1))).rejects.toThrow(RangeError);
    await expect(store().claimChunk(jobId, -1, "w1", LONG_LEASE)).rejects.toThrow(TypeError);
    await expect(store().claimChunk(jobId, 0, "w1", 0)).rejects.toThrow(TypeError);
    expect((await store().getJobState(jobId))?.counters.chunks_done).toBe(0);
  });

  test("getJobState and getLeases show live leases only", async () => {
    const jobId = await newJob(4);
    await store().claimChunk(jobId, 3, "w3", LONG_LEASE);
    await store().claimChunk(jobId, 0, "w0", LONG_LEASE);
    await store().claimChunk(jobId, 1, "w1", SHORT_LEASE);
    await store().claimChunk(jobId, 2, "w2", LONG_LEASE);
    await store().completeChunk(jobId, 2, ok(1));
    await sleep(PAST_SHORT_LEASE);
    const leases = await store().getLeases(jobId);
    expect(leases.map(({ chunk, owner }) => ({ chunk, owner }))).toEqual([
      { chunk: 0, owner: "w0" },
      { chunk: 3, owner: "w3" },
    ]);
    for (const lease of leases) expect(lease.expiresAtMs).toBeGreaterThan(Date.now());
    const state = await store().getJobState(jobId);
    expect(state?.running).toBe(2);
    expect(state?.attempts).toEqual({ 0: 1, 1: 1, 2: 1, 3: 1 });
  });

  test("restoreJob rebuilds the state that completing the same chunks builds", async () => {
    const completed: JobStateSnapshot["completed"] = [
      { chunk: 0, outcome: ok(50, 0, { orders: 50 }) },
      { chunk: 3, outcome: { rowsDone: 0, rowsFailed: 50, failed: true } },
      { chunk: 4, outcome: ok(45, 5, { orders: 45, refunds: 2 }) },
    ];
    const init = { chunkTotal: 6, rowTotal: 300, startedAtMs: 1_700_000_000_000 };

    const built = newJobId();
    await store().initJob(built, init);
    for (const { chunk, outcome } of completed) await store().completeChunk(built, chunk, outcome);

    const restored = newJobId();
    // A job with leases, attempts and other counts already: restore replaces all of it.
    await store().initJob(restored, { chunkTotal: 2, rowTotal: 1, startedAtMs: 1 });
    await store().claimChunk(restored, 1, "w1", LONG_LEASE);
    await store().completeChunk(restored, 0, ok(1, 0, { stale: 1 }));
    // The first listing of a chunk wins, as with a repeated completeChunk.
    await store().restoreJob(restored, {
      ...init,
      cancelled: false,
      finalised: false,
      completed: [...completed, { chunk: 0, outcome: ok(999) }],
    });

    const expected = await store().getJobState(built);
    expect(expected?.counters).toEqual({
      rows_done: 95,
      rows_failed: 55,
      chunks_done: 2,
      chunks_failed: 1,
      orders: 95,
      refunds: 2,
    });
    expect(await store().getJobState(restored)).toEqual(expected);
    expect(await store().getLeases(restored)).toEqual([]);
    expect(await store().claimChunk(restored, 3, "w1", LONG_LEASE)).toEqual({ status: "done" });
    expect(await store().claimChunk(restored, 1, "w2", LONG_LEASE)).toMatchObject({ status: "claimed", attempt: 1 });
    expect(await store().completeChunk(restored, 0, ok(1))).toMatchObject({ newlyCompleted: false });
    expect(await store().completeChunk(restored, 5, ok(1))).toMatchObject({ newlyCompleted: true, chunksDone: 3 });
  });

  test("restoreJob carries the cancel and finalise flags, and works on an unknown job", async () => {
    const jobId = newJobId();
    await store().restoreJob(jobId, {
      chunkTotal: 2,
      rowTotal: 2,
      startedAtMs: 5,
      cancelled: true,
      finalised: true,
      completed: [],
    });
    expect(await store().getJobState(jobId)).toMatchObject({ cancelled: true, finalised: true, chunkTotal: 2 });
    expect(await store().claimChunk(jobId, 0, "w1", LONG_LEASE)).toEqual({ status: "cancelled" });
    expect(await store().tryFinalise(jobId)).toBe(false);
    await expect(
      store().restoreJob(jobId, {
        chunkTotal: 2,
        rowTotal: 2,
        startedAtMs: 5,
        cancelled: false,
        finalised: false,
        completed: [{ chunk: 2, outcome: ok(1) }],
      }),
    ).rejects.toThrow(RangeError);
  });

  test("restoreJob handles thousands of chunks in one step", async () => {
    const jobId = newJobId();
    const chunkTotal = 5_000;
    await store().restoreJob(jobId, {
      chunkTotal,
      rowTotal: chunkTotal,
      startedAtMs: 1,
      cancelled: false,
      finalised: false,
      completed: Array.from({ length: chunkTotal - 1 }, (_, chunk) => ({
        chunk,
        outcome: chunk < 2_500 ? ok(1, 0, { [`c${chunk % 1_500}`]: 1 }) : { rowsDone: 0, rowsFailed: 1, failed: true },
      })),
    });
    const state = await store().getJobState(jobId);
    expect(state?.counters).toMatchObject({ chunks_done: 2_500, chunks_failed: 2_499, rows_done: 2_500 });
    expect(Object.keys(state?.counters ?? {})).toHaveLength(4 + 1_500);
    expect(await store().completeChunk(jobId, chunkTotal - 1, ok(1))).toMatchObject({ allComplete: true });
  });

  test("state expires after its TTL; init, restore and complete refresh it", async () => {
    const short = current().withTtl(600);
    const jobId = newJobId();
    await short.initJob(jobId, { chunkTotal: 2, rowTotal: 2, startedAtMs: 1 });
    await short.claimChunk(jobId, 0, "w1", LONG_LEASE);
    await sleep(350);
    await short.completeChunk(jobId, 1, ok(1));
    await sleep(350);
    // 700 ms after init, 350 after the completion that refreshed it.
    expect(await short.getJobState(jobId)).toMatchObject({ counters: { chunks_done: 1 }, running: 1 });
    await sleep(750);
    expect(await short.getJobState(jobId)).toBeNull();
    expect(await short.claimChunk(jobId, 0, "w1", LONG_LEASE)).toEqual({ status: "unknown" });
    await short.restoreJob(jobId, {
      chunkTotal: 2,
      rowTotal: 2,
      startedAtMs: 1,
      cancelled: false,
      finalised: false,
      completed: [{ chunk: 1, outcome: ok(1) }],
    });
    expect(await short.claimChunk(jobId, 1, "w1", LONG_LEASE)).toEqual({ status: "done" });
  });

  test("deleteJob removes everything; the job can start afresh", async () => {
    const jobId = await newJob(2);
    await store().claimChunk(jobId, 0, "w1", LONG_LEASE);
    await store().completeChunk(jobId, 1, ok(5));
    await store().tryFinalise(jobId);
    await store().deleteJob(jobId);
    await store().deleteJob(jobId);
    expect(await store().getJobState(jobId)).toBeNull();
    expect(await store().getLeases(jobId)).toEqual([]);
    expect(await store().claimChunk(jobId, 0, "w1", LONG_LEASE)).toEqual({ status: "unknown" });
    await store().initJob(jobId, { chunkTotal: 2, rowTotal: 2, startedAtMs: 2 });
    expect(await store().claimChunk(jobId, 0, "w1", LONG_LEASE)).toMatchObject({ status: "claimed", attempt: 1 });
    expect(await store().tryFinalise(jobId)).toBe(true);
  });

  test("ping answers", async () => {
    await expect(store().ping()).resolves.toBeUndefined();
  });
}

describe("job state contract: in memory", () => {
  const store = createMemoryJobStateStore();
  jobStateContract(() => ({ store, other: store, withTtl: (ttlMs) => createMemoryJobStateStore({ ttlMs }) }));

  test("the factory picks the memory store without Upstash settings", async () => {
    const fromConfig = createJobStateStore({ driver: "memory" });
    await fromConfig.initJob("j", { chunkTotal: 1, rowTotal: 1, startedAtMs: 1 });
    expect(await fromConfig.claimChunk("j", 0, "w", 10)).toMatchObject({ status: "claimed" });
    await fromConfig.close();
    expect(await fromConfig.getJobState("j")).toBeNull();
  });
});

describeRedis("job state contract: Upstash adapter → REST bridge → redis-server", () => {
  let harness: Harness | undefined;
  let ttlStores = new Map<number, JobStateStore>();
  redisTest.beforeAll(({ bridge, keyPrefix }) => {
    const open = (ttlMs?: number) =>
      createJobStateStore(
        { driver: "upstash", url: bridge.url, token: BRIDGE_TOKEN },
        { keyPrefix, ttlMs, retries: 0, requestTimeoutMs: 10_000 },
      );
    ttlStores = new Map();
    harness = {
      store: open(),
      other: open(),
      withTtl: (ttlMs) => {
        let store = ttlStores.get(ttlMs);
        if (!store) ttlStores.set(ttlMs, (store = open(ttlMs)));
        return store;
      },
    };
  });
  jobStateContract(() => {
    if (!harness) throw new Error("the Upstash store was not set up");
    return harness;
  });

  redisTest("every key of a job is in one hash slot and expires, at most the TTL from now", async ({
    bridge,
    keyPrefix,
    redisClient,
  }) => {
    const ttlMs = 3_600_000;
    const store = createUpstashJobStateStore({ url: bridge.url, token: BRIDGE_TOKEN, keyPrefix, ttlMs, retries: 0 });
    const jobId = newJobId();
    await store.initJob(jobId, { chunkTotal: 3, rowTotal: 3, startedAtMs: 1 });
    // Keys that only a claim or a completion creates, after init set the TTL.
    await store.claimChunk(jobId, 0, "w1", LONG_LEASE);
    await store.completeChunk(jobId, 1, { rowsDone: 0, rowsFailed: 1, failed: true, counters: { x: 1 } });
    await store.claimChunk(jobId, 2, "w2", LONG_LEASE);

    const keys = await keysWithPrefix(redisClient, `${keyPrefix}job:{${jobId}}`);
    expect(keys).toEqual([...jobKeys(keyPrefix, jobId)].sort());
    for (const key of keys) {
      const pttl = Number(await redisClient.call("PTTL", key));
      expect(pttl, key).toBeGreaterThan(ttlMs - 60_000);
      expect(pttl, key).toBeLessThanOrEqual(ttlMs);
    }
    await store.restoreJob(jobId, {
      chunkTotal: 3,
      rowTotal: 3,
      startedAtMs: 1,
      cancelled: false,
      finalised: false,
      completed: [{ chunk: 1, outcome: ok(1) }],
    });
    for (const key of await keysWithPrefix(redisClient, `${keyPrefix}job:{${jobId}}`)) {
      expect(Number(await redisClient.call("PTTL", key)), key).toBeGreaterThan(ttlMs - 60_000);
    }
    await store.deleteJob(jobId);
    expect(await keysWithPrefix(redisClient, `${keyPrefix}job:{${jobId}}`)).toEqual([]);
  });

  redisTest("scripts are loaded again after SCRIPT FLUSH (EVALSHA → NOSCRIPT → EVAL)", async ({
    bridge,
    keyPrefix,
    redisClient,
  }) => {
    const store = createUpstashJobStateStore({ url: bridge.url, token: BRIDGE_TOKEN, keyPrefix, retries: 0 });
    const jobId = newJobId();
    await store.initJob(jobId, { chunkTotal: 1, rowTotal: 1, startedAtMs: 1 });
    await redisClient.call("SCRIPT", "FLUSH");
    expect(await store.claimChunk(jobId, 0, "w1", LONG_LEASE)).toMatchObject({ status: "claimed", attempt: 1 });
    expect(await store.completeChunk(jobId, 0, ok(1))).toMatchObject({ allComplete: true });
  });

  redisTest("a wrong token fails every call", async ({ bridge, keyPrefix }) => {
    const store = createUpstashJobStateStore({ url: bridge.url, token: "wrong-token", keyPrefix, retries: 0 });
    await expect(store.ping()).rejects.toThrow(/Unauthorized/);
    await expect(store.getJobState(newJobId())).rejects.toThrow(/Unauthorized/);
  });
});
