/**
 * The key-value port of the catalogue sync: what every process and invocation of a
 * run must share and no single one may hold in memory (serverless instances share
 * nothing): each eMAG account's request pacing, a SAP run's session, the single-flight
 * login lock, and the run's request statistics summed over every attempt. Two adapters
 * (Upstash Redis, in memory for embedded mode) with one contract
 * (test/kv/sync-state.test.ts).
 */

/** A reserved request slot: send after `waitMs`. Not granted: the next free slot is further away than allowed. */
export interface RequestSlot {
  granted: boolean;
  waitMs: number;
}

export interface SyncStateStore {
  /**
   * Reserves the next request slot of `bucket`: slots are spaced `intervalMs` apart (one
   * "next free" time per bucket, on the store's clock), so requests reserved by any
   * number of processes never come closer than that. Nothing is reserved when the
   * slot is more than `maxWaitMs` away.
   */
  reserveSlot(bucket: string, intervalMs: number, maxWaitMs: number): Promise<RequestSlot>;
  /** No slot of `bucket` is handed out for the next `ms` (the upstream answered 429). */
  holdBucket(bucket: string, ms: number): Promise<void>;
  readValue(key: string): Promise<string | null>;
  writeValue(key: string, value: string, ttlMs: number): Promise<void>;
  deleteValue(key: string): Promise<void>;
  /** Takes the lock when it is free (or already `owner`'s); it expires after `ttlMs`. */
  tryLock(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Releases the lock only if `owner` holds it. */
  unlock(key: string, owner: string): Promise<void>;
  /** Adds to named counts (at least once: statistics, not the run's exactly-once counters). */
  addCounts(key: string, counts: Readonly<Record<string, number>>, ttlMs: number): Promise<void>;
  readCounts(key: string): Promise<Record<string, number>>;
}

export function checkKey(key: unknown): string {
  if (typeof key !== "string" || key === "" || key.length > 300) throw new TypeError("key must be a non-empty string of at most 300 characters");
  return key;
}

export function checkPositive(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a number ≥ 0, got ${String(value)}`);
  return value;
}

/** Integer counts only: a fraction or NaN would corrupt the sums. */
export function checkCounts(counts: Readonly<Record<string, number>>): Array<[string, number]> {
  return Object.entries(counts).map(([name, value]) => {
    if (name === "" || !Number.isSafeInteger(value)) throw new TypeError(`count "${name}" must be an integer, got ${String(value)}`);
    return [name, value];
  });
}
