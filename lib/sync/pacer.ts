/**
 * One request pace per eMAG account, shared by every process and invocation through
 * the sync state store: each request first reserves a slot, and slots are spaced so
 * that neither the per-second nor the per-minute limit can be exceeded in any window
 * (an even pace of `min(perSecond, perMinute / 60)`, less a small headroom for the
 * jitter between reserving a slot and the request reaching eMAG). A store error
 * propagates, so no request goes out unreserved: the limiter fails closed.
 */
import type { SyncStateStore } from "../kv/sync-state.js";

/** The share of the configured limit the pace aims at: the rest absorbs timer and network jitter. */
export const PACE_FRACTION = 0.96;
/** A request that starts this much later than its slot gives the slot up and takes another. */
export const LATE_START_MS = 25;

export interface RateLimit {
  perSecond: number;
  perMinute: number;
}

export interface RequestPacer {
  /** Milliseconds between two requests of the bucket. */
  readonly intervalMs: number;
  /**
   * Waits for this request's slot; false (and nothing reserved) when the next slot is
   * more than `maxWaitMs` away.
   */
  acquire(maxWaitMs: number, signal?: AbortSignal): Promise<boolean>;
  /** The upstream throttled us anyway (other traffic on the account): no slot for `ms`. */
  holdOff(ms: number): Promise<void>;
}

export function paceInterval(limit: RateLimit): number {
  const perSecond = Math.min(limit.perSecond, limit.perMinute / 60);
  return Math.ceil(1000 / (perSecond * PACE_FRACTION));
}

export function createRequestPacer(store: SyncStateStore, bucket: string, limit: RateLimit): RequestPacer {
  const intervalMs = paceInterval(limit);
  return {
    intervalMs,
    async acquire(maxWaitMs, signal) {
      for (;;) {
        const asked = Date.now();
        const slot = await store.reserveSlot(bucket, intervalMs, Math.max(0, maxWaitMs - (Date.now() - asked)));
        if (!slot.granted) return false;
        if (slot.waitMs > 0) await sleep(slot.waitMs, signal);
        // A busy event loop can wake us late; sending then would bunch this request with
        // the next one's slot. Give the slot up and take the next.
        const late = Date.now() - (asked + slot.waitMs);
        if (late <= LATE_START_MS) return true;
        maxWaitMs -= Date.now() - asked;
        if (maxWaitMs <= 0) return false;
      }
    },
    holdOff: (ms) => store.holdBucket(bucket, ms),
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
