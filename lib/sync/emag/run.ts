/**
 * An eMAG run: a full scan (eMAG has no modified-since filter for offers). The start
 * counts the offers and cuts the counted pages into ranges read in parallel under the
 * account's shared pace; the last range is open-ended and reads on until a short page,
 * so offers added while the run reads are not cut off. An empty page before the
 * counted end is not the end: it is retried, then it is a gap.
 */
import type { EmagAccount } from "../../config.js";
import type { SyncStateStore } from "../../kv/sync-state.js";
import { UpstreamError } from "../errors.js";
import { createRequestPacer } from "../pacer.js";
import type { EmagPagesPayload, SyncPayload } from "../params.js";
import { MAX_PAGE_TIMEOUTS } from "../params.js";
import {
  type ChunkRead,
  callWithRetries,
  MAX_CONSECUTIVE_FAILED_PAGES,
  MAX_PAGES_PER_CHUNK,
  pageFailure,
  requestContext,
  type RunCall,
  type SourceRunner,
} from "../runner.js";
import { type CallContext, createEmagClient, EMAG_PAGE_SIZE, type EmagClient } from "./client.js";
import { offerToItem } from "./offers.js";

/** Pages per range: a few seconds of reading at eMAG's 3 req/s. */
export const EMAG_PAGES_PER_RANGE = 10;

export function emagRunner(options: { account: EmagAccount; store: SyncStateStore; timeoutMs: number }): SourceRunner {
  const pacer = createRequestPacer(options.store, `emag:${options.account.name}`, {
    perSecond: options.account.ratePerSecond,
    perMinute: options.account.ratePerMinute,
  });
  const client = createEmagClient({ account: options.account, pacer, timeoutMs: options.timeoutMs });

  return {
    async start(call) {
      const expected = await callWithRetries(call, () => client.countOffers(requestContext(call)));
      const pages = Math.ceil(expected / EMAG_PAGE_SIZE);
      const next: SyncPayload[] = [];
      // Closed ranges up to the last counted page; that page starts the open range.
      for (let from = 1; from < pages; from += EMAG_PAGES_PER_RANGE) {
        const to = Math.min(pages - 1, from + EMAG_PAGES_PER_RANGE - 1);
        next.push({ step: "emag_pages", from, to, cursor: from, timeouts: 0 });
      }
      const last = Math.max(1, pages);
      next.push({ step: "emag_pages", from: last, to: null, cursor: last, timeouts: 0 });
      return { expected, next };
    },
    async read(payload, call) {
      if (payload.step !== "emag_pages") throw new Error(`an eMAG run got a ${payload.step} chunk`);
      return readRange(client, payload, call, requestContext(call));
    },
    countAtEnd: (call) => callWithRetries(call, () => client.countOffers(requestContext(call))),
    async end() {},
    toItem: offerToItem,
  };
}

async function readRange(client: EmagClient, payload: EmagPagesPayload, call: RunCall, ctx: CallContext): Promise<ChunkRead> {
  const counters = { pages: 0, pages_failed: 0, cap_hit: 0, tail_unread: 0 };
  const pages: unknown[][] = [];
  let { cursor, timeouts } = payload;
  let failedInARow = 0;
  const handOn = (): ChunkRead => ({ pages, counters, next: [{ ...payload, cursor, timeouts }] });
  for (;;) {
    // Each page's requests reach the run's statistics before the next page's: a worker
    // killed mid-range has counted what it sent.
    await call.stats.flush();
    if (payload.to !== null && cursor > payload.to) return { pages, counters, next: [] };
    if (cursor > call.config.maxPages) {
      counters.cap_hit = 1;
      return { pages, counters, next: [] };
    }
    if (pages.length >= MAX_PAGES_PER_CHUNK) return handOn();
    const page = cursor;
    try {
      const offers = await callWithRetries(call, async () => {
        const read = await client.readOffers(page, ctx);
        // Before the counted end an empty page is a hiccup, not the end of the data.
        if (read.length === 0 && payload.to !== null) {
          throw new UpstreamError("bad_data", `eMAG page ${page} came back empty before the counted end`);
        }
        return read;
      });
      pages.push(offers);
      counters.pages += 1;
      cursor += 1;
      timeouts = 0;
      failedInARow = 0;
      if (payload.to === null && offers.length < EMAG_PAGE_SIZE) return { pages, counters, next: [] };
    } catch (error) {
      const failure = pageFailure(error);
      if (failure.kind === "throttled") {
        if (pages.length === 0) return { pages, counters, next: [], throttledS: failure.retryAfterS };
        return handOn();
      }
      if (failure.kind === "handOn") {
        if (!failure.timedOut || timeouts + 1 < MAX_PAGE_TIMEOUTS) {
          if (failure.timedOut) timeouts += 1;
          return handOn();
        }
      }
      // This page is a gap: failed after its retries, or timed out too often.
      counters.pages_failed += 1;
      cursor += 1;
      timeouts = 0;
      failedInARow += 1;
      if (failedInARow >= MAX_CONSECUTIVE_FAILED_PAGES) {
        if (payload.to !== null) counters.pages_failed += Math.max(0, payload.to - cursor + 1);
        else counters.tail_unread = 1;
        return { pages, counters, next: [] };
      }
    }
  }
}
