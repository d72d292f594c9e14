/**
 * The in-memory SyncStateStore of embedded mode (one process). Each method runs to
 * completion without awaiting, which makes it atomic in one Node process.
 */
import { checkCounts, checkKey, checkPositive, type RequestSlot, type SyncStateStore } from "./sync-state.js";

interface Expiring<T> {
  value: T;
  expiresAtMs: number;
}

export function createMemorySyncStateStore(options: { now?: () => number } = {}): SyncStateStore {
  const now = options.now ?? Date.now;
  const nextSlot = new Map<string, number>();
  const values = new Map<string, Expiring<string>>();
  const counts = new Map<string, Expiring<Map<string, number>>>();

  const live = <T>(map: Map<string, Expiring<T>>, key: string): T | undefined => {
    const entry = map.get(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs <= now()) {
      map.delete(key);
      return undefined;
    }
    return entry.value;
  };

  return {
    async reserveSlot(bucket, intervalMs, maxWaitMs): Promise<RequestSlot> {
      checkKey(bucket);
      checkPositive("intervalMs", intervalMs);
      checkPositive("maxWaitMs", maxWaitMs);
      const at = now();
      const slot = Math.max(nextSlot.get(bucket) ?? 0, at);
      const waitMs = slot - at;
      if (waitMs > maxWaitMs) return { granted: false, waitMs };
      nextSlot.set(bucket, slot + intervalMs);
      return { granted: true, waitMs };
    },
    async holdBucket(bucket, ms) {
      checkKey(bucket);
      checkPositive("ms", ms);
      nextSlot.set(bucket, Math.max(nextSlot.get(bucket) ?? 0, now() + ms));
    },
    async readValue(key) {
      return live(values, checkKey(key)) ?? null;
    },
    async writeValue(key, value, ttlMs) {
      values.set(checkKey(key), { value, expiresAtMs: now() + checkPositive("ttlMs", ttlMs) });
    },
    async deleteValue(key) {
      values.delete(checkKey(key));
    },
    async tryLock(key, owner, ttlMs) {
      const holder = live(values, checkKey(key));
      if (holder !== undefined && holder !== owner) return false;
      values.set(key, { value: owner, expiresAtMs: now() + checkPositive("ttlMs", ttlMs) });
      return true;
    },
    async unlock(key, owner) {
      if (live(values, checkKey(key)) === owner) values.delete(key);
    },
    async addCounts(key, deltas, ttlMs) {
      const checked = checkCounts(deltas);
      const current = live(counts, checkKey(key)) ?? new Map<string, number>();
      for (const [name, value] of checked) current.set(name, (current.get(name) ?? 0) + value);
      counts.set(key, { value: current, expiresAtMs: now() + checkPositive("ttlMs", ttlMs) });
    },
    async readCounts(key) {
      return Object.fromEntries(live(counts, checkKey(key)) ?? []);
    },
  };
}
