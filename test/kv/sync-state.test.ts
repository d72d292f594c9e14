/**
 * The sync state port's contract (lib/kv/sync-state.ts), run against both adapters:
 * in memory, and Upstash through the real `@upstash/redis` client, the local REST
 * bridge and a real redis-server. Two stores over the same state stand for two
 * function instances.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import { createSyncStateStore, type SyncStateStore } from "../../lib/kv/index.js";
import { createMemorySyncStateStore } from "../../lib/kv/sync-state-memory.js";
import { BRIDGE_TOKEN, describeRedis, redisTest } from "../support/redis-fixtures.js";

interface Harness {
  store: SyncStateStore;
  /** Another client of the same state (another process). */
  other: SyncStateStore;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const name = (what: string) => `${what}-${randomUUID()}`;

function syncStateContract(current: () => Harness): void {
  test("slots of one bucket are spaced by the interval across clients, and a slot too far away is not reserved", async () => {
    const { store, other } = current();
    const bucket = name("bucket");
    // A slot's time on the local clock: when it was asked for, plus its wait.
    const slotAt = async (client: SyncStateStore) => {
      const asked = Date.now();
      const slot = await client.reserveSlot(bucket, 200, 10_000);
      return { ...slot, at: asked + slot.waitMs };
    };
    const first = await slotAt(store);
    const second = await slotAt(other);
    const third = await slotAt(store);
    expect(first).toMatchObject({ granted: true, waitMs: 0 });
    expect(second.granted).toBe(true);
    expect(second.waitMs).toBeGreaterThan(150);
    expect(second.waitMs).toBeLessThanOrEqual(200);
    // Within a few ms of the clocks' reading: the slots are 200 ms apart.
    expect(third.at - second.at).toBeGreaterThanOrEqual(190);
    expect(third.at - first.at).toBeGreaterThanOrEqual(390);
    // The next slot is ~600 ms away: not within 100 ms, and refusing reserves nothing.
    const refused = await other.reserveSlot(bucket, 200, 100);
    expect(refused.granted).toBe(false);
    expect(refused.waitMs).toBeGreaterThan(400);
    const after = await store.reserveSlot(bucket, 200, 10_000);
    expect(after.waitMs).toBeLessThan(refused.waitMs + 20);
    // Another bucket is its own.
    expect(await store.reserveSlot(name("bucket"), 200, 0)).toEqual({ granted: true, waitMs: 0 });
  });

  test("holdBucket pushes the next slot out; it never pulls one in", async () => {
    const { store, other } = current();
    const bucket = name("held");
    await store.holdBucket(bucket, 500);
    const slot = await other.reserveSlot(bucket, 10, 10_000);
    expect(slot.waitMs).toBeGreaterThan(400);
    await store.holdBucket(bucket, 10);
    const next = await other.reserveSlot(bucket, 10, 10_000);
    expect(next.waitMs).toBeGreaterThan(400);
  });

  test("values are shared, expire, and can be deleted", async () => {
    const { store, other } = current();
    const key = name("value");
    expect(await store.readValue(key)).toBeNull();
    await store.writeValue(key, '{"session":"abc"}', 60_000);
    expect(await other.readValue(key)).toBe('{"session":"abc"}');
    await other.deleteValue(key);
    expect(await store.readValue(key)).toBeNull();
    await store.writeValue(key, "short", 50);
    await sleep(120);
    expect(await other.readValue(key)).toBeNull();
  });

  test("a lock has one owner until it is released or expires", async () => {
    const { store, other } = current();
    const key = name("lock");
    expect(await store.tryLock(key, "a", 60_000)).toBe(true);
    expect(await other.tryLock(key, "b", 60_000)).toBe(false);
    expect(await store.tryLock(key, "a", 60_000)).toBe(true);
    await other.unlock(key, "b");
    expect(await other.tryLock(key, "b", 60_000)).toBe(false);
    await store.unlock(key, "a");
    expect(await other.tryLock(key, "b", 50)).toBe(true);
    await sleep(120);
    expect(await store.tryLock(key, "a", 60_000)).toBe(true);
  });

  test("counts add up across clients and concurrent calls", async () => {
    const { store, other } = current();
    const key = name("counts");
    expect(await store.readCounts(key)).toEqual({});
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).addCounts(key, { requests: 1, throttled: i % 5 === 0 ? 1 : 0 }, 60_000)),
    );
    expect(await other.readCounts(key)).toEqual({ requests: 20, throttled: 4 });
    await expect(store.addCounts(key, { requests: 0.5 }, 60_000)).rejects.toThrow(/integer/);
  });
}

describe("sync state contract: in memory", () => {
  const store = createMemorySyncStateStore();
  syncStateContract(() => ({ store, other: store }));

  test("the factory picks the memory store without Upstash settings", async () => {
    const store = createSyncStateStore({ driver: "memory" });
    expect(await store.reserveSlot("b", 100, 0)).toEqual({ granted: true, waitMs: 0 });
  });
});

describeRedis("sync state contract: Upstash adapter → REST bridge → redis-server", () => {
  let harness: Harness | undefined;
  redisTest.beforeAll(({ bridge, keyPrefix }) => {
    const open = () => createSyncStateStore({ driver: "upstash", url: bridge.url, token: BRIDGE_TOKEN }, { keyPrefix });
    harness = { store: open(), other: open() };
  });
  syncStateContract(() => {
    if (!harness) throw new Error("the Upstash store was not set up");
    return harness;
  });

  redisTest("a wrong token fails every call: the limiter fails closed", async ({ bridge, keyPrefix }) => {
    const store = createSyncStateStore({ driver: "upstash", url: bridge.url, token: "wrong-token" }, { keyPrefix });
    await expect(store.reserveSlot("bucket", 100, 1000)).rejects.toThrow();
  });
});
