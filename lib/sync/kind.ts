/**
 * The `sync` job kind: a catalogue sync run from eMAG or SAP on the job engine.
 *
 *   plan         one `start` chunk
 *   start        count (and for SAP log in and find range cuts); hands on the page ranges
 *   ranges       read pages within the budget; each page one set-based upsert; the rest
 *                of the range handed on as a continuation at the deadline
 *   finalStep    count again, count the unique items seen, decide: complete, or gaps
 *                (why); a complete full run retires what it did not see
 *   settle       the final status (completed / completed_with_gaps / failed) and the
 *                run's request statistics into the job's counters; the source and
 *                account are free again
 *   afterFinalise  SAP logs out, however the run ended
 *
 * Duplicate deliveries, dead workers, throttling and the watchdog are the engine's.
 */
import type { EmagAccount, SapSettings, SyncConfig } from "../config.js";
import type { Database } from "../db/client.js";
import { chunkOutcomes } from "../jobs/outcomes.js";
import { defineJobKind, type JobKind } from "../jobs/kind.js";
import { ChunkThrottled, type ChunkWork, PermanentChunkError } from "../jobs/types.js";
import type { MetricsStore } from "../kv/metrics-store.js";
import type { SyncStateStore } from "../kv/sync-state.js";
import { recordMetrics } from "../metrics/record.js";
import { countSeen, retireUnseen, type RunScope, upsertCatalogueItems } from "./catalogue.js";
import type { CatalogueItemInput } from "./items.js";
import { BudgetSpent, UpstreamError } from "./errors.js";
import { emagRunner } from "./emag/run.js";
import { SYNC_KIND, SyncParams, SyncPayload } from "./params.js";
import type { ChunkRead, RunCall, SourceRunner } from "./runner.js";
import { finishSyncRun, findSyncRun, recordExpectedAtStart, recordFatal, recordStartError, recordVerdict } from "./runs.js";
import { sapRunner } from "./sap/run.js";
import { readRunStats, RunStats } from "./stats.js";
import { runVerdict } from "./verdict.js";

/** The upstreams a runtime syncs: configured, or outside production the simulators. */
export interface Upstreams {
  emag: readonly EmagAccount[];
  sap: SapSettings | null;
}

export interface SyncKindDeps {
  database(): Promise<Database>;
  store(): SyncStateStore;
  /** Where upstream requests and a source's last success are counted. */
  metrics(): MetricsStore;
  config: SyncConfig;
  upstreams(): Upstreams;
}

export function createSyncKind(deps: SyncKindDeps): JobKind {
  const runnerFor = (jobId: string, params: SyncParams): SourceRunner => {
    const timeoutMs = deps.config.requestTimeoutMs;
    if (params.source === "emag") {
      const account = deps.upstreams().emag.find((candidate) => candidate.name === params.account);
      if (!account) throw new UpstreamError("fatal", `eMAG account "${params.account}" is not configured (EMAG_ACCOUNTS)`);
      return emagRunner({ account, store: deps.store(), timeoutMs });
    }
    const settings = deps.upstreams().sap;
    if (!settings) throw new UpstreamError("fatal", "SAP is not configured (SAP_URL, SAP_COMPANY_DB, SAP_USER, SAP_PASSWORD)");
    return sapRunner({
      settings,
      store: deps.store(),
      jobId,
      params,
      timeoutMs,
      pageSize: deps.config.sapPageSize,
      workers: deps.config.sapWorkers,
    });
  };
  const callFor = (jobId: string, params: SyncParams, budget: { timeLeftMs(): number; signal?: AbortSignal }): RunCall => ({
    timeLeftMs: () => budget.timeLeftMs(),
    signal: budget.signal,
    stats: new RunStats(deps.store(), jobId, { store: deps.metrics(), source: params.source }),
    config: deps.config,
  });

  return defineJobKind({
    kind: SYNC_KIND,
    params: SyncParams,
    payload: SyncPayload,
    openEnded: true,
    delivery: {
      flowKey: ({ params }) => `sync-${params.source}-${params.account}`,
      // One number for both sources: SAP needs its workers' ranges in flight at once;
      // for eMAG the account's shared pace, not this, is the limit.
      parallelism: Math.max(deps.config.sapWorkers, deps.config.emagWorkers),
    },
    plan: async () => [{ payload: { step: "start" as const }, rows: 0 }],

    async processChunk(ctx) {
      const { job, params, payload } = ctx;
      const db = await deps.database();
      const run = await findSyncRun(db, job.id);
      if (!run) throw new PermanentChunkError(`sync run ${job.id} has no sync_runs row`);
      // After a fatal error the rest of the run does nothing (it fails with that error).
      if (run.fatal) return ctx.commit(async () => ({ rowsDone: 0, rowsFailed: 0 }));
      const call = callFor(job.id, params, ctx);
      try {
        const runner = runnerFor(job.id, params);
        if (payload.step === "start") {
          const started = await runner.start(call);
          await call.stats.flush();
          return await ctx.commit(async (tx) => {
            await recordExpectedAtStart(tx, job.id, started.expected);
            return { rowsDone: 0, rowsFailed: 0, counters: { ranges: started.next.length }, next: started.next.map((next) => ({ payload: next, rows: 0 })) };
          });
        }
        const read = await runner.read(payload, call);
        // Counted before the commit: a worker that dies right after it has lost nothing.
        await call.stats.flush();
        if (read.throttledS !== undefined) throw new ChunkThrottled(read.throttledS);
        const scope: RunScope = { source: params.source, account: params.account, jobId: job.id };
        const prepared = chunkItems(read, runner);
        return await ctx.commit((tx) => writeItems(tx, scope, read, prepared));
      } catch (error) {
        if (error instanceof UpstreamError && error.failure === "fatal") {
          await recordFatal(db, job.id, error.message);
          throw new PermanentChunkError(error.message, { cause: error });
        }
        if (error instanceof BudgetSpent || error instanceof UpstreamError) {
          // The start could not count within its budget or retries: the queue delivers it
          // again; if it never succeeds, this is why the run failed.
          if (payload.step === "start") await recordStartError(db, job.id, error.message);
          throw new Error(error.message, { cause: error });
        }
        throw error;
      } finally {
        await call.stats.flush();
      }
    },

    async finalStep({ job, params, db, timeLeftMs, signal }) {
      const run = await findSyncRun(db, job.id);
      if (!run || run.fatal || run.seen !== null) return "done";
      const outcomes = await chunkOutcomes(db, job.id, SyncPayload);
      const call = callFor(job.id, params, { timeLeftMs, signal });
      let expectedAtEnd: number | null = null;
      let endCountError: string | null = null;
      try {
        expectedAtEnd = await runnerFor(job.id, params).countAtEnd(call);
      } catch (error) {
        if (error instanceof UpstreamError && error.failure === "fatal") {
          await recordFatal(db, job.id, error.message);
          return "done";
        }
        if (!(error instanceof UpstreamError || error instanceof BudgetSpent)) throw error;
        endCountError = error.message;
      } finally {
        await call.stats.flush();
      }
      const scope: RunScope = { source: params.source, account: params.account, jobId: job.id };
      const seen = await countSeen(db, scope);
      const gaps = runVerdict({ run, outcomes, expectedAtEnd, endCountError, seen, maxPages: deps.config.maxPages });
      await db.transaction(async (tx) => {
        const locked = await findSyncRun(tx as unknown as Database, job.id, { forUpdate: true });
        if (!locked || locked.seen !== null) return;
        const retired = gaps === null && params.mode === "full" ? await retireUnseen(tx as unknown as Database, scope) : 0;
        await recordVerdict(tx as unknown as Database, job.id, { expectedAtEnd, seen, retired, gaps });
      });
      return "done";
    },

    async settle({ job, db, status, counters }) {
      const run = await findSyncRun(db, job.id);
      const stats = await readRunStats(deps.store(), job.id);
      await finishSyncRun(db, job.id);
      const withStats = { ...counters, ...stats };
      if (status === "cancelled" || !run) return { status, counters: withStats };
      if (run.fatal || run.expectedAtStart === null) return { status: "failed", counters: withStats };
      const complete = run.seen !== null && run.gaps === null && (counters.chunks_failed ?? 0) === 0;
      return { status: complete ? "completed" : "completed_with_gaps", counters: withStats };
    },

    async afterFinalise({ job, params, db, status }) {
      await finishSyncRun(db, job.id);
      if (status === "completed") {
        recordMetrics(deps.metrics(), [{ metric: "lastSuccess", labels: { pipeline: "sync", source: params.source }, value: Math.floor(Date.now() / 1000) }]);
      }
      if (params.source !== "sap" || !deps.upstreams().sap) return;
      const call = callFor(job.id, params, { timeLeftMs: () => 30_000 });
      try {
        await runnerFor(job.id, params).end(call);
      } finally {
        await call.stats.flush();
      }
    },
  });
}

/** Items one upsert statement takes at most: ten eMAG pages. */
const UPSERT_BATCH = 1_000;

/**
 * The chunk's pages as catalogue items, before its transaction opens (so the mapping
 * and hashing do not hold it): an item already taken from an earlier page of the
 * chunk is a duplicate (offset paging over moving data repeats items).
 */
function chunkItems(read: ChunkRead, runner: SourceRunner) {
  const items = new Map<string, CatalogueItemInput>();
  const counts = { items_duplicate: 0, items_rejected: 0 };
  for (const page of read.pages) {
    for (const raw of page) {
      const item = runner.toItem(raw);
      if ("reason" in item) counts.items_rejected += 1;
      else if (items.has(item.externalId)) counts.items_duplicate += 1;
      else items.set(item.externalId, item);
    }
  }
  return { items: [...items.values()], counts };
}

/**
 * The chunk's items in set-based upserts of up to UPSERT_BATCH (one statement per ten
 * eMAG pages rather than one per page: the same work in fewer round trips, measured
 * with `npm run bench:sync`), counted, with the rest of the range handed on.
 */
async function writeItems(tx: Database, scope: RunScope, read: ChunkRead, prepared: ReturnType<typeof chunkItems>): Promise<ChunkWork<SyncPayload>> {
  const counts = { items_created: 0, items_updated: 0, items_unchanged: 0, ...prepared.counts };
  for (let from = 0; from < prepared.items.length; from += UPSERT_BATCH) {
    const result = await upsertCatalogueItems(tx, scope, prepared.items.slice(from, from + UPSERT_BATCH));
    counts.items_created += result.created;
    counts.items_updated += result.updated;
    counts.items_unchanged += result.unchanged;
  }
  return {
    rowsDone: prepared.items.length,
    rowsFailed: counts.items_rejected,
    counters: { ...read.counters, ...counts },
    next: read.next.map((payload) => ({ payload, rows: 0 })),
  };
}
