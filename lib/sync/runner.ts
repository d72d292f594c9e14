/**
 * What the sync kind needs from a source (eMAG, SAP): start a run (count, cut it into
 * page ranges), read one range's pages within the invocation's budget, count again
 * at the end, and end the run (SAP logs out). The kind (kind.ts) does the rest: the
 * commit, the verdict, the retire sweep, the run record.
 */
import type { SyncConfig } from "../config.js";
import type { CatalogueItemInput, RejectedItem } from "./items.js";
import type { SyncPayload } from "./params.js";
import type { RunStats, StatName } from "./stats.js";
import { BudgetSpent, UpstreamError } from "./errors.js";
import { DEFAULT_RETRY, withRetries } from "./retry.js";

export interface RunCall {
  timeLeftMs(): number;
  signal?: AbortSignal;
  stats: RunStats;
  config: SyncConfig;
}

export interface RunStart {
  expected: number;
  next: SyncPayload[];
}

export interface ChunkRead {
  /** The raw items of each page read, in order. */
  pages: unknown[][];
  /** pages, pages_failed, cap_hit, tail_unread … */
  counters: Record<string, number>;
  /** The rest of this range (a continuation), when it stopped early. */
  next: SyncPayload[];
  /** Nothing was read because the upstream throttled us: try the chunk again in this many seconds. */
  throttledS?: number;
}

export interface SourceRunner {
  start(call: RunCall): Promise<RunStart>;
  read(payload: SyncPayload, call: RunCall): Promise<ChunkRead>;
  countAtEnd(call: RunCall): Promise<number>;
  end(call: RunCall): Promise<void>;
  toItem(raw: unknown): CatalogueItemInput | RejectedItem;
}

/** Consecutive pages that failed after their retries before a range stops reading (an outage, not a bad page). */
export const MAX_CONSECUTIVE_FAILED_PAGES = 3;
/** Pages one chunk reads at most before it hands on, so what it holds in memory stays small. */
export const MAX_PAGES_PER_CHUNK = 50;

/** What one upstream request reports to its run: the budget, and the run's statistics and metrics. */
export interface RequestContext {
  timeLeftMs(): number;
  signal?: AbortSignal;
  count(name: StatName, n?: number): void;
  observe(outcome: string, seconds: number): void;
  sending(): Promise<void>;
}

/** The request context of a call, the same for both sources' clients. */
export function requestContext(call: RunCall): RequestContext {
  return {
    timeLeftMs: call.timeLeftMs,
    signal: call.signal,
    count: (name, n) => call.stats.count(name, n),
    observe: (outcome, seconds) => call.stats.request(outcome, seconds),
    sending: () => call.stats.sending(),
  };
}

/** One upstream call with the sync's retries, counting each retry in the run's statistics. */
export function callWithRetries<T>(call: RunCall, attempt: () => Promise<T>): Promise<T> {
  return withRetries(attempt, DEFAULT_RETRY, {
    timeLeftMs: () => call.timeLeftMs(),
    attemptNeedsMs: Math.min(call.config.requestTimeoutMs, 5_000),
    onRetry: () => call.stats.count("retries"),
  });
}

/** How a page's read ended, for the range loops of both sources. */
export type PageFailure =
  | { kind: "handOn"; timedOut: boolean }
  | { kind: "throttled"; retryAfterS: number }
  | { kind: "failed"; reason: string };

/** Classifies what a page read threw; fatal errors and our own bugs are thrown on. */
export function pageFailure(error: unknown): PageFailure {
  if (error instanceof BudgetSpent) return { kind: "handOn", timedOut: error.timedOut };
  if (error instanceof UpstreamError) {
    if (error.failure === "fatal") throw error;
    if (error.failure === "throttled") {
      if (error.details.budgetRanOut) return { kind: "handOn", timedOut: false };
      return { kind: "throttled", retryAfterS: Math.max(1, Math.ceil((error.details.retryAfterMs ?? 1_000) / 1000)) };
    }
    return { kind: "failed", reason: error.message };
  }
  throw error;
}
