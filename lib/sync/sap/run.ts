/**
 * A SAP run: full, or incremental (`UpdateDate ge` the last complete run's day less
 * one: SAP compares dates by the day). The start logs in, counts, and cuts the
 * ItemCode order into one range per worker (the codes at evenly spaced positions);
 * each range is read by keyset pages (`ItemCode gt '<last read>'`), so a page never
 * shifts when items come or go while the run reads; the counts at the start and end
 * and the unique items seen tell whether anything moved.
 */
import type { SapSettings } from "../../config.js";
import type { SyncStateStore } from "../../kv/sync-state.js";
import type { SapRangePayload, SyncParams, SyncPayload } from "../params.js";
import { MAX_PAGE_TIMEOUTS } from "../params.js";
import {
  type ChunkRead,
  callWithRetries,
  MAX_PAGES_PER_CHUNK,
  pageFailure,
  requestContext,
  type RunCall,
  type SourceRunner,
} from "../runner.js";
import { andFilters, createSapClient, odataString, type SapClient, sapItemToItem } from "./client.js";
import { createSapSessions, type SessionCallContext } from "./session.js";

export function sapRunner(options: {
  settings: SapSettings;
  store: SyncStateStore;
  jobId: string;
  params: SyncParams;
  timeoutMs: number;
  pageSize: number;
  workers: number;
}): SourceRunner {
  const sessions = createSapSessions({ settings: options.settings, store: options.store, runId: options.jobId, timeoutMs: options.timeoutMs });
  const client = createSapClient({ settings: options.settings, sessions, timeoutMs: options.timeoutMs, pageSize: options.pageSize });
  const baseFilter = options.params.mode === "incremental" && options.params.since ? `UpdateDate ge ${odataString(options.params.since)}` : null;

  return {
    async start(call) {
      const ctx = requestContext(call);
      const expected = await callWithRetries(call, () => client.count(baseFilter, ctx));
      const ranges = Math.max(1, Math.min(options.workers, Math.ceil(expected / options.pageSize)));
      // The codes at positions n/W, 2n/W, …: each range ends at one (inclusive).
      const cuts = await Promise.all(
        Array.from({ length: ranges - 1 }, (_, i) =>
          callWithRetries(call, () => client.codeAt(baseFilter, Math.floor(((i + 1) * expected) / ranges) - 1, ctx)),
        ),
      );
      const bounds = [...new Set(cuts.filter((code): code is string => code !== null))].sort(compareCodes);
      const next: SyncPayload[] = [];
      // The run's page cap, shared out: keyset ranges have no global page number to count against.
      const pagesLeft = Math.max(1, Math.floor(call.config.maxPages / (bounds.length + 1)));
      let after: string | null = null;
      for (const until of bounds) {
        next.push({ step: "sap_range", after, until, timeouts: 0, pages_left: pagesLeft });
        after = until;
      }
      next.push({ step: "sap_range", after, until: null, timeouts: 0, pages_left: pagesLeft });
      return { expected, next };
    },
    async read(payload, call) {
      if (payload.step !== "sap_range") throw new Error(`a SAP run got a ${payload.step} chunk`);
      return readRange(client, baseFilter, options.pageSize, payload, call, requestContext(call));
    },
    countAtEnd: (call) => callWithRetries(call, () => client.count(baseFilter, requestContext(call))),
    async end(call) {
      if (await sessions.logout(requestContext(call))) call.stats.count("logouts");
    },
    toItem: sapItemToItem,
  };
}

/** SAP sorts ItemCode as the database collates it; within a run only equality and our own order matter. */
function compareCodes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function readRange(
  client: SapClient,
  baseFilter: string | null,
  pageSize: number,
  payload: SapRangePayload,
  call: RunCall,
  ctx: SessionCallContext,
): Promise<ChunkRead> {
  const counters = { pages: 0, pages_failed: 0, cap_hit: 0, tail_unread: 0 };
  const pages: unknown[][] = [];
  let { after, timeouts } = payload;
  const handOn = (): ChunkRead => ({ pages, counters, next: [{ ...payload, after, timeouts, pages_left: payload.pages_left - pages.length }] });
  const rangeFilter = payload.until === null ? null : `ItemCode le ${odataString(payload.until)}`;
  for (;;) {
    // Each page's requests reach the run's statistics before the next page's: a worker
    // killed mid-range has counted what it sent.
    await call.stats.flush();
    if (pages.length >= payload.pages_left) {
      counters.cap_hit = 1;
      return { pages, counters, next: [] };
    }
    if (pages.length >= MAX_PAGES_PER_CHUNK) return handOn();
    const filter = andFilters(baseFilter, after === null ? null : `ItemCode gt ${odataString(after)}`, rangeFilter);
    try {
      const page = await callWithRetries(call, () => client.page(filter, pageSize, ctx));
      timeouts = 0;
      if (page.items.length > 0) {
        pages.push(page.items);
        counters.pages += 1;
        const last = page.items[page.items.length - 1] as Record<string, unknown>;
        if (typeof last.ItemCode !== "string") {
          // Without the last code the keyset cannot move on: the rest of the range is a gap.
          counters.tail_unread = 1;
          return { pages, counters, next: [] };
        }
        after = last.ItemCode;
      }
      if (page.items.length === 0 || (page.items.length < pageSize && !page.more)) return { pages, counters, next: [] };
    } catch (error) {
      const failure = pageFailure(error);
      if (failure.kind === "throttled") {
        if (pages.length === 0) return { pages, counters, next: [], throttledS: failure.retryAfterS };
        return handOn();
      }
      if (failure.kind === "handOn" && (!failure.timedOut || timeouts + 1 < MAX_PAGE_TIMEOUTS)) {
        if (failure.timedOut) timeouts += 1;
        return handOn();
      }
      // A keyset page cannot be stepped over (where it ends is unknown): the rest of the range is a gap.
      counters.pages_failed += 1;
      counters.tail_unread = 1;
      return { pages, counters, next: [] };
    }
  }
}
