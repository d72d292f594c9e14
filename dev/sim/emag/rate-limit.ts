/**
 * eMAG's gateway limits (docs/local-services.md) as sliding windows of 1 s and 60 s over the
 * arrival times of one account's accepted requests in one bucket. Rejected requests are
 * not recorded: a gateway that counted them would lock a client that retries too
 * eagerly out for good, and `penaltyMs` models the harsher gateway explicitly.
 */
import type { EmagRateRule } from "./config.js";

const SECOND_MS = 1_000;
const MINUTE_MS = 60_000;
/** The window the documented X-RateLimit-*-3second headers describe. */
const HEADER_WINDOW_MS = 3_000;

export interface RateDecision {
  allowed: boolean;
  /** For X-RateLimit-Limit-3second. */
  limit3s: number;
  /** For X-RateLimit-Remaining-3second, this request included. */
  remaining3s: number;
}

interface Window {
  /** Arrival times (ms), oldest first, of the accepted requests of the last minute. */
  times: number[];
  penaltyUntil: number;
}

export class RateLimiter {
  private readonly windows = new Map<string, Window>();

  /** Decides the request arriving at `now` for `key` (account + bucket), and records it if accepted. */
  check(key: string, rule: EmagRateRule, penaltyMs: number, now: number): RateDecision {
    let window = this.windows.get(key);
    if (!window) {
      window = { times: [], penaltyUntil: 0 };
      this.windows.set(key, window);
    }
    const times = window.times;
    let stale = 0;
    while (stale < times.length && (times[stale] as number) <= now - MINUTE_MS) stale++;
    if (stale > 0) times.splice(0, stale);
    const limit3s = rule.perSecond * 3;
    const inSecond = countSince(times, now - SECOND_MS);
    if (now < window.penaltyUntil || inSecond >= rule.perSecond || times.length >= rule.perMinute) {
      if (penaltyMs > 0) window.penaltyUntil = Math.max(window.penaltyUntil, now + penaltyMs);
      return { allowed: false, limit3s, remaining3s: 0 };
    }
    times.push(now);
    return { allowed: true, limit3s, remaining3s: Math.max(0, limit3s - countSince(times, now - HEADER_WINDOW_MS)) };
  }

  clear(): void {
    this.windows.clear();
  }
}

/** How many of the (ascending) times are later than `since`. */
function countSince(times: readonly number[], since: number): number {
  let count = 0;
  for (let i = times.length - 1; i >= 0 && (times[i] as number) > since; i--) count++;
  return count;
}
