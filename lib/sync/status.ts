/**
 * The run record: GET /api/sync/runs/:id and the list. Everything a seller asks of a
 * run: how it ended and why, what the upstream counted at the start and the end, the
 * unique items seen, what was created, updated, unchanged and retired, the pages that
 * failed, and the requests it made (429s, retries, logins) with the request rate it
 * achieved, summed over every invocation and attempt.
 */
import { invalidCursor } from "../jobs/list-cursor.js";
import { sql } from "drizzle-orm";
import { z } from "zod";
import { type Database, queryRows } from "../db/client.js";
import { JOB_STATUSES, SYNC_MODES, SYNC_SOURCES, type SyncSource } from "../db/schema.js";
import { AppError } from "../errors.js";
import { chunkCounterSums, type JobEngine, type JobView, NextCursor, ProgressSchema } from "../jobs/index.js";
import type { SyncStateStore } from "../kv/sync-state.js";
import { SYNC_KIND, SyncParams } from "./params.js";
import { findSyncRun, type SyncRunRow } from "./runs.js";
import { readRunStats, STAT_NAMES } from "./stats.js";

const ACTIVE = new Set(["queued", "planning", "running"]);
const count = z.number().int();

/** The run record (docs/sync.md, "The run record"): GET /api/sync/runs/:id and each run of the list. */
export const SyncRunRecordSchema = z
  .object({
    id: z.string(),
    source: z.enum(SYNC_SOURCES),
    account: z.string(),
    mode: z.enum(SYNC_MODES),
    since: z.string().nullable(),
    trigger: z.enum(["cron", "api"]),
    status: z.enum(JOB_STATUSES),
    reason: z.string().nullable().describe("Why it failed, or why it could not prove it saw everything (completed_with_gaps)."),
    expected: z.object({ at_start: count.nullable(), at_end: count.nullable() }).describe("What the upstream counted at the start and the end."),
    seen_unique: count.nullable(),
    items: z.object({ created: count, updated: count, unchanged: count, duplicates: count, rejected: count, retired: count }),
    pages: z.object({ read: count, failed: count, cap_hit: z.boolean() }),
    requests: z.object({
      total: count,
      throttled_429: count,
      retries: count,
      logins: count,
      logouts: count,
      rate_per_s: z.number().nullable(),
    }),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    heartbeat_at: z.string().nullable(),
    duration_s: z.number(),
    progress: ProgressSchema,
  })
  .meta({ id: "SyncRunRecord" });
export type SyncRunRecord = z.infer<typeof SyncRunRecordSchema>;

/** GET /api/sync/runs: one source's or account's runs, a page at a time. */
export const SyncRunListQuery = z.object({
  source: z.enum(SYNC_SOURCES).optional(),
  account: z.string().min(1).max(40).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

/** GET /api/sync/runs: a page of run records, newest first. */
export const SyncRunListSchema = z.object({ runs: z.array(SyncRunRecordSchema), next_cursor: NextCursor });
export type SyncRunList = z.infer<typeof SyncRunListSchema>;

export async function requireSyncRun(engine: JobEngine, db: Database, id: string): Promise<{ view: JobView; run: SyncRunRow }> {
  const job = await engine.requireJob(id);
  const run = job.kind === SYNC_KIND ? await findSyncRun(db, id) : null;
  if (!run) throw new AppError("not_found", `No sync run ${id}.`);
  return { view: await engine.view(job), run };
}

export async function syncRunRecord(deps: { db: Database; store: SyncStateStore }, view: JobView, run: SyncRunRow): Promise<SyncRunRecord> {
  const params = SyncParams.parse(view.params);
  const active = ACTIVE.has(view.status);
  // A running run's counts are its committed chunks'; its request statistics live in the sync state store.
  // The statistics store outlives the run's end (a SAP logout comes after it) and is the
  // one source while it lasts; the counters copied at the end stand in once it expired.
  const live = await readRunStats(deps.store, view.id);
  const stats = Object.fromEntries(Object.entries(live).filter(([, value]) => value > 0));
  const counters = { ...(active ? await chunkCounterSums(deps.db, view.id) : view.counters), ...stats };
  const count = (name: string) => counters[name] ?? 0;
  const started = view.started_at ? Date.parse(view.started_at) : Date.parse(view.created_at);
  const ended = view.finished_at ? Date.parse(view.finished_at) : Date.now();
  const durationS = Math.max(0, (ended - started) / 1000);
  const requests = count("requests");
  return {
    id: view.id,
    source: run.source,
    account: run.account,
    mode: run.mode,
    since: run.since,
    trigger: params.trigger,
    status: view.status,
    reason: run.fatal ?? (view.status === "failed" ? failedReason(view, run) : run.gaps),
    expected: { at_start: run.expectedAtStart, at_end: run.expectedAtEnd },
    seen_unique: run.seen,
    items: {
      created: count("items_created"),
      updated: count("items_updated"),
      unchanged: count("items_unchanged"),
      duplicates: count("items_duplicate"),
      rejected: count("items_rejected"),
      retired: run.retired ?? 0,
    },
    pages: { read: count("pages"), failed: count("pages_failed"), cap_hit: count("cap_hit") > 0 },
    requests: {
      total: requests,
      throttled_429: count("throttled"),
      retries: count("retries"),
      logins: count("logins"),
      logouts: count("logouts"),
      rate_per_s: durationS > 0 ? Math.round((requests / durationS) * 1000) / 1000 : null,
    },
    created_at: view.created_at,
    started_at: view.started_at,
    finished_at: view.finished_at,
    heartbeat_at: view.heartbeat_at,
    duration_s: Math.round(durationS * 10) / 10,
    progress: view.progress,
  };
}

function failedReason(view: JobView, run: SyncRunRow): string {
  if (run.expectedAtStart === null) return `the run could not count the items at its start: ${run.startError ?? view.last_error ?? "its start failed"}`;
  return view.last_error ?? "the run failed";
}

/** Statistics names the record reads, for documentation and tests. */
export const RUN_STATISTICS = STAT_NAMES;

/** One page of runs, newest first, optionally of one source and account; keyset cursor over (started_at, id). */
export async function listSyncRunIds(
  db: Database,
  query: { source?: SyncSource; account?: string; limit: number; cursor?: string },
): Promise<{ ids: string[]; nextCursor: string | null }> {
  const after = query.cursor ? decodeRunCursor(query.cursor) : null;
  const rows = await queryRows<{ job_id: string; started: string }>(
    db,
    sql`select job_id, to_char(started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as started from sync_runs
        where true
          ${query.source ? sql`and source = ${query.source}` : sql``}
          ${query.account ? sql`and account = ${query.account}` : sql``}
          ${after ? sql`and (started_at, job_id) < (${after.startedAt}::timestamptz, ${after.id}::uuid)` : sql``}
        order by started_at desc, job_id desc limit ${query.limit + 1}`,
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  const nextCursor = rows.length > query.limit && last ? Buffer.from(`${last.started}|${last.job_id}`).toString("base64url") : null;
  return { ids: page.map((row) => row.job_id), nextCursor };
}

function decodeRunCursor(cursor: string): { startedAt: string; id: string } {
  const [startedAt, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  const valid =
    startedAt !== undefined &&
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(startedAt) &&
    !Number.isNaN(Date.parse(startedAt)) &&
    id !== undefined &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id);
  if (!valid) {
    throw invalidCursor();
  }
  return { startedAt, id };
}


