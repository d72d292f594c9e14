/**
 * The durable side of the engine: `jobs` and `job_chunks` in Postgres. Every write
 * here is guarded by the row's current status, so a duplicate or late caller
 * changes nothing.
 */
import { and, asc, desc, eq, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import { type ChunkStatus, type JobStatus, jobChunks, jobs } from "../db/schema.js";
import type { JobStateSnapshot } from "../kv/job-state.js";
import type { ChunkWork, JobRecord, PlannedChunk } from "./types.js";

export const ACTIVE_STATUSES: JobStatus[] = ["queued", "planning", "running"];
export const TERMINAL_STATUSES: JobStatus[] = [
  "completed",
  "completed_with_errors",
  "completed_with_gaps",
  "failed",
  "cancelled",
];

export interface JobRow extends JobRecord {
  totals: { rows?: number; chunks?: number; plan_publications?: number; step_publications?: number; step_done?: boolean };
  counters: Record<string, number>;
  lastError: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  heartbeatAt: Date | null;
}

const jobColumns = {
  id: jobs.id,
  seq: jobs.seq,
  kind: jobs.kind,
  status: jobs.status,
  params: jobs.params,
  correlationId: jobs.correlationId,
  totals: jobs.totals,
  counters: jobs.counters,
  lastError: jobs.lastError,
  createdAt: jobs.createdAt,
  startedAt: jobs.startedAt,
  finishedAt: jobs.finishedAt,
  heartbeatAt: jobs.heartbeatAt,
};

export async function insertJob(
  db: Database,
  job: { id: string; kind: string; params: unknown; correlationId: string },
): Promise<JobRow> {
  const [row] = await db
    .insert(jobs)
    .values({ id: job.id, kind: job.kind, params: job.params, correlationId: job.correlationId, heartbeatAt: sql`now()` })
    .returning(jobColumns);
  return row as JobRow;
}

export async function findJob(db: Database, id: string): Promise<JobRow | null> {
  const [row] = await db.select(jobColumns).from(jobs).where(eq(jobs.id, id));
  return (row as JobRow | undefined) ?? null;
}

/**
 * The job row, locked until the transaction `db` ends: finalisers and cancels of one job
 * take turns. `no key update`, not `update`: a chunk's transaction inserts rows that
 * reference the job (row errors), which takes a key-share lock on it, and a cancel
 * holds this lock while it waits for those transactions to end.
 */
export async function lockJob(db: Database, id: string): Promise<JobRow | null> {
  const [row] = await db.select(jobColumns).from(jobs).where(eq(jobs.id, id)).for("no key update");
  return (row as JobRow | undefined) ?? null;
}

export interface JobListQuery {
  kind?: string;
  status?: JobStatus;
  limit: number;
  /**
   * Keyset: the (created_at, id) of the last row of the previous page, created_at as
   * the exact ISO text listJobs returned (microseconds: a JS Date keeps only
   * milliseconds, and a cursor rounded to them skips jobs created in the same one).
   */
  after?: { createdAt: string; id: string };
}

/** A listed job with its created_at to the microsecond, for the next page's cursor. */
export type ListedJob = JobRow & { createdAtExact: string };

export async function listJobs(db: Database, query: JobListQuery): Promise<ListedJob[]> {
  const filters: SQL[] = [];
  if (query.kind) filters.push(eq(jobs.kind, query.kind));
  if (query.status) filters.push(eq(jobs.status, query.status));
  if (query.after) {
    const { id } = query.after;
    const createdAt = sql`${query.after.createdAt}::timestamptz`;
    filters.push(or(lt(jobs.createdAt, createdAt), and(eq(jobs.createdAt, createdAt), lt(jobs.id, id))) as SQL);
  }
  const rows = await db
    .select({
      ...jobColumns,
      createdAtExact: sql<string>`to_char(${jobs.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    })
    .from(jobs)
    .where(filters.length > 0 ? and(...filters) : undefined)
    .orderBy(desc(jobs.createdAt), desc(jobs.id))
    .limit(query.limit);
  return rows as ListedJob[];
}

/** queued -> planning; false if another planner or a cancel got there first. */
export async function startPlanning(db: Database, id: string): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({ status: "planning", heartbeatAt: sql`now()` })
    .where(and(eq(jobs.id, id), inArray(jobs.status, ["queued", "planning"])))
    .returning({ id: jobs.id });
  return rows.length > 0;
}

/**
 * Writes the plan and moves the job to running in one transaction. Returns false
 * when the job had already left planning (a duplicate planner, or a cancel).
 */
export async function savePlan(db: Database, id: string, chunks: PlannedChunk[]): Promise<boolean> {
  return db.transaction(async (tx) => {
    const rowTotal = chunks.reduce((sum, chunk) => sum + chunk.rows, 0);
    const moved = await tx
      .update(jobs)
      .set({
        status: "running",
        startedAt: sql`coalesce(${jobs.startedAt}, now())`,
        heartbeatAt: sql`now()`,
        totals: { rows: rowTotal, chunks: chunks.length },
      })
      .where(and(eq(jobs.id, id), inArray(jobs.status, ["queued", "planning"])))
      .returning({ id: jobs.id });
    if (moved.length === 0) return false;
    // Batched to stay far below the 65,535 bind-parameter limit of one statement.
    for (let start = 0; start < chunks.length; start += 1000) {
      const batch = chunks.slice(start, start + 1000);
      await tx
        .insert(jobChunks)
        .values(batch.map((chunk, i) => ({ jobId: id, chunk: start + i, payload: chunk.payload, rowsPlanned: chunk.rows })))
        .onConflictDoNothing();
    }
    return true;
  });
}

export interface ChunkRow {
  chunk: number;
  payload: unknown;
  rowsPlanned: number;
  status: ChunkStatus;
  rowsDone: number;
  rowsFailed: number;
  counters: Record<string, number>;
  error: string | null;
  attempts: number;
  throttles: number;
  publications: number;
  publishedAt: Date | null;
}

const chunkColumns = {
  chunk: jobChunks.chunk,
  payload: jobChunks.payload,
  rowsPlanned: jobChunks.rowsPlanned,
  status: jobChunks.status,
  rowsDone: jobChunks.rowsDone,
  rowsFailed: jobChunks.rowsFailed,
  counters: jobChunks.counters,
  error: jobChunks.error,
  attempts: jobChunks.attempts,
  throttles: jobChunks.throttles,
  publications: jobChunks.publications,
  publishedAt: jobChunks.publishedAt,
};

export async function findChunk(db: Database, jobId: string, chunk: number): Promise<ChunkRow | null> {
  const [row] = await db
    .select(chunkColumns)
    .from(jobChunks)
    .where(and(eq(jobChunks.jobId, jobId), eq(jobChunks.chunk, chunk)));
  return (row as ChunkRow | undefined) ?? null;
}

export async function listChunks(db: Database, jobId: string, status?: ChunkStatus): Promise<ChunkRow[]> {
  const rows = await db
    .select(chunkColumns)
    .from(jobChunks)
    .where(status ? and(eq(jobChunks.jobId, jobId), eq(jobChunks.status, status)) : eq(jobChunks.jobId, jobId))
    .orderBy(asc(jobChunks.chunk));
  return rows as ChunkRow[];
}

/**
 * Marks every pending chunk never published yet as published once, and returns them:
 * one conditional update, so two plan deliveries at once publish each chunk once.
 */
export async function markFirstPublications(db: Database, jobId: string): Promise<MarkedChunk[]> {
  return db
    .update(jobChunks)
    .set({ publications: 1, publishedAt: sql`now()` })
    .where(and(eq(jobChunks.jobId, jobId), eq(jobChunks.status, "pending"), eq(jobChunks.publications, 0)))
    .returning(markedColumns);
}

/** A chunk about to be published: its deduplication generation and what its delivery depends on. */
export interface MarkedChunk {
  chunk: number;
  publications: number;
  throttles: number;
  payload: unknown;
}

const markedColumns = {
  chunk: jobChunks.chunk,
  publications: jobChunks.publications,
  throttles: jobChunks.throttles,
  payload: jobChunks.payload,
};

/** Bumps `publications` (the next deduplication generation) of these chunks; returns them. */
export async function markPublished(db: Database, jobId: string, chunks: number[]): Promise<MarkedChunk[]> {
  if (chunks.length === 0) return [];
  return db
    .update(jobChunks)
    .set({ publications: sql`${jobChunks.publications} + 1`, publishedAt: sql`now()` })
    .where(and(eq(jobChunks.jobId, jobId), inArray(jobChunks.chunk, chunks), eq(jobChunks.status, "pending")))
    .returning(markedColumns);
}

/**
 * Counts a throttled attempt of a pending chunk and marks it published as of when its
 * delayed message is due (so the watchdog does not take the wait for a lost message);
 * null when the chunk is no longer pending.
 */
export async function markThrottled(db: Database, jobId: string, chunk: number, delayS: number): Promise<MarkedChunk | null> {
  const [row] = await db
    .update(jobChunks)
    .set({
      throttles: sql`${jobChunks.throttles} + 1`,
      publishedAt: sql`now() + make_interval(secs => ${delayS})`,
    })
    .where(and(eq(jobChunks.jobId, jobId), eq(jobChunks.chunk, chunk), eq(jobChunks.status, "pending")))
    .returning(markedColumns);
  return row ?? null;
}

/**
 * Counts one more attempt at the chunk (durable, unlike Redis's) and returns the chunk's
 * row as it is now, in the one statement; null when the job has no such chunk. Also
 * beats the job's heartbeat, at most once a second.
 */
export async function recordAttempt(db: Database, jobId: string, chunk: number): Promise<ChunkRow | null> {
  const [row] = await queryRows<ChunkRow & Record<string, unknown>>(
    db,
    sql`
    with chunk as (
      update job_chunks set attempts = attempts + 1 where job_id = ${jobId} and chunk = ${chunk}
      returning chunk, payload, rows_planned as "rowsPlanned", status, rows_done as "rowsDone",
                rows_failed as "rowsFailed", counters, error, attempts, throttles, publications, published_at as "publishedAt"
    ), beat as (
      update jobs set heartbeat_at = now()
      where id = ${jobId} and (heartbeat_at is null or heartbeat_at < now() - interval '1 second')
    )
    select * from chunk`,
  );
  return row ?? null;
}

/** The job's last sign of life in milliseconds: created, started, a heartbeat or a chunk's end. */
export async function lastActivityMs(db: Database, jobId: string): Promise<number | null> {
  const [row] = await queryRows<{ ms: number | string | null }>(
    db,
    sql`select (extract(epoch from greatest(j.created_at, j.started_at, j.heartbeat_at,
                 (select max(c.completed_at) from job_chunks c where c.job_id = j.id))) * 1000)::float8 as ms
        from jobs j where j.id = ${jobId}`,
  );
  return row?.ms === undefined || row.ms === null ? null : Number(row.ms);
}

export async function touchJob(db: Database, jobId: string): Promise<void> {
  await db.update(jobs).set({ heartbeatAt: sql`now()` }).where(eq(jobs.id, jobId));
}

/** Thrown inside a chunk transaction to roll it back: another delivery already committed it. */
export class ChunkAlreadyCommitted extends Error {
  constructor() {
    super("chunk already committed");
    this.name = "ChunkAlreadyCommitted";
  }
}

/**
 * Runs a chunk's data writes and its outcome in one transaction. The chunk row is
 * locked first, so a concurrent duplicate waits, then sees it done and rolls back.
 */
export async function commitChunk(
  db: Database,
  jobId: string,
  chunk: number,
  work: (tx: Database) => Promise<ChunkWork>,
): Promise<CommittedChunk> {
  return db.transaction(async (tx) => {
    const [locked] = await queryRows<{ status: ChunkStatus }>(
      tx as unknown as Database,
      sql`select status from job_chunks where job_id = ${jobId} and chunk = ${chunk} for update`,
    );
    if (locked?.status !== "pending") throw new ChunkAlreadyCommitted();
    const result = await work(tx as unknown as Database);
    await tx
      .update(jobChunks)
      .set({
        status: "done",
        rowsDone: result.rowsDone,
        rowsFailed: result.rowsFailed,
        counters: result.counters ?? {},
        countsByKey: result.countsByKey ?? {},
        error: null,
        completedAt: sql`now()`,
      })
      .where(and(eq(jobChunks.jobId, jobId), eq(jobChunks.chunk, chunk)));
    const grown = result.next && result.next.length > 0 ? await addChunks(tx as unknown as Database, jobId, result.next) : null;
    return { work: result, grown };
  });
}

/** A committed chunk's work and, when it handed work on, the job's totals after it. */
export interface CommittedChunk {
  work: ChunkWork;
  grown: { chunkTotal: number; rowTotal: number } | null;
}

/**
 * Appends chunks to a running job, numbered after its last one, in the caller's
 * transaction (a chunk's commit). Committers of one job take turns on a transaction
 * advisory lock for the numbering; the job row itself is not locked, so a cancel
 * (which holds it while it waits for chunk commits) never deadlocks with them.
 */
async function addChunks(tx: Database, jobId: string, chunks: PlannedChunk[]): Promise<{ chunkTotal: number; rowTotal: number }> {
  await queryRows(tx, sql`select pg_advisory_xact_lock(hashtextextended(${`job-chunks:${jobId}`}, 0))`);
  const [last] = await queryRows<{ next: number }>(
    tx,
    sql`select coalesce(max(chunk), -1)::int + 1 as next from job_chunks where job_id = ${jobId}`,
  );
  const first = last?.next ?? 0;
  await tx
    .insert(jobChunks)
    .values(chunks.map((chunk, i) => ({ jobId, chunk: first + i, payload: chunk.payload, rowsPlanned: chunk.rows })));
  return chunkCount(tx, jobId);
}

/** How many chunks the job has and the rows they plan: its totals, grown or not. */
export async function chunkCount(db: Database, jobId: string): Promise<{ chunkTotal: number; rowTotal: number }> {
  const [row] = await queryRows<{ chunks: number; rows: number }>(
    db,
    sql`select count(*)::int as chunks, coalesce(sum(rows_planned), 0)::int as rows from job_chunks where job_id = ${jobId}`,
  );
  return { chunkTotal: row?.chunks ?? 0, rowTotal: row?.rows ?? 0 };
}

/** Marks a pending chunk failed as a whole; false if it had already completed. */
export async function failChunk(db: Database, jobId: string, chunk: number, error: string): Promise<ChunkRow | null> {
  const [row] = await db
    .update(jobChunks)
    .set({ status: "failed", error, completedAt: sql`now()`, rowsDone: 0, rowsFailed: jobChunks.rowsPlanned })
    .where(and(eq(jobChunks.jobId, jobId), eq(jobChunks.chunk, chunk), eq(jobChunks.status, "pending")))
    .returning(chunkColumns);
  return (row as ChunkRow | undefined) ?? null;
}

export interface ChunkTotals {
  chunks: number;
  done: number;
  failed: number;
  /** Chunks a cancel stopped before they committed (their rows were never processed). */
  cancelled: number;
  pending: number;
  /** Throttled attempts (re-published with a delay; not failures). */
  throttles: number;
  rowsPlanned: number;
  rowsDone: number;
  rowsFailed: number;
  counters: Record<string, number>;
  firstError: string | null;
}

/** Totals of no chunk at all, with `overrides` set. */
export function emptyChunkTotals(overrides: Partial<ChunkTotals> = {}): ChunkTotals {
  return {
    chunks: 0,
    done: 0,
    failed: 0,
    cancelled: 0,
    pending: 0,
    throttles: 0,
    rowsPlanned: 0,
    rowsDone: 0,
    rowsFailed: 0,
    counters: {},
    firstError: null,
    ...overrides,
  };
}

/** Sums the outcomes of a job's chunks: the authoritative counts, whatever Redis says. */
export async function chunkTotals(db: Database, jobId: string): Promise<ChunkTotals> {
  const rows = await listChunks(db, jobId);
  const totals = emptyChunkTotals({ chunks: rows.length });
  for (const row of rows) {
    totals.rowsPlanned += row.rowsPlanned;
    totals[row.status] += 1;
    totals.throttles += row.throttles;
    totals.rowsDone += row.rowsDone;
    totals.rowsFailed += row.rowsFailed;
    for (const [name, value] of Object.entries(row.counters)) totals.counters[name] = (totals.counters[name] ?? 0) + value;
    if (row.error && totals.firstError === null) totals.firstError = `chunk ${row.chunk}: ${row.error}`;
  }
  return totals;
}

/** What Redis needs to rebuild the job's hot state. */
export async function jobSnapshot(db: Database, job: JobRow): Promise<JobStateSnapshot> {
  const rows = await listChunks(db, job.id);
  return {
    chunkTotal: rows.length,
    rowTotal: rows.reduce((sum, row) => sum + row.rowsPlanned, 0),
    startedAtMs: (job.startedAt ?? job.createdAt).getTime(),
    cancelled: job.status === "cancelled",
    finalised: TERMINAL_STATUSES.includes(job.status),
    completed: rows
      .filter((row) => row.status !== "pending")
      .map((row) => ({
        chunk: row.chunk,
        outcome: {
          rowsDone: row.rowsDone,
          rowsFailed: row.rowsFailed,
          failed: row.status === "failed",
          counters: row.counters,
        },
      })),
  };
}

/** running/planning -> a terminal status, once. */
export async function finishJob(
  db: Database,
  id: string,
  result: { status: JobStatus; counters: Record<string, number>; lastError: string | null },
): Promise<boolean> {
  // The totals as the job ended: chunks added while it ran count too.
  const { chunkTotal, rowTotal } = await chunkCount(db, id);
  const rows = await db
    .update(jobs)
    .set({
      status: result.status,
      counters: result.counters,
      lastError: result.lastError,
      finishedAt: sql`now()`,
      totals: sql`${jobs.totals} || ${JSON.stringify({ chunks: chunkTotal, rows: rowTotal })}::jsonb`,
    })
    .where(and(eq(jobs.id, id), inArray(jobs.status, ACTIVE_STATUSES)))
    .returning({ id: jobs.id });
  return rows.length > 0;
}

/**
 * Marks every pending chunk of the job cancelled: none of them can commit afterwards
 * (commitChunk finds it no longer pending and rolls back). A chunk whose transaction is
 * under way holds its row's lock, so this waits for it, and then leaves it done: what
 * committed before the cancel counts, nothing commits after it.
 */
export async function cancelPendingChunks(db: Database, jobId: string): Promise<number> {
  // Until none is left: a chunk that committed while the previous pass waited for it may
  // have handed on new chunks, which only the next statement's snapshot sees.
  for (let cancelled = 0; ; ) {
    const rows = await db
      .update(jobChunks)
      .set({ status: "cancelled", error: "cancelled on request", completedAt: sql`now()` })
      .where(and(eq(jobChunks.jobId, jobId), eq(jobChunks.status, "pending")))
      .returning({ chunk: jobChunks.chunk });
    if (rows.length === 0) return cancelled;
    cancelled += rows.length;
  }
}

/** Puts failed chunks back to pending and the job back to running; returns the chunk numbers. */
export async function reopenFailedChunks(db: Database, id: string): Promise<number[]> {
  return db.transaction(async (tx) => {
    const reopened = await tx
      .update(jobs)
      // The job-wide step runs again after the re-run chunks.
      .set({ status: "running", finishedAt: null, heartbeatAt: sql`now()`, totals: sql`${jobs.totals} - 'step_done'` })
      .where(
        and(
          eq(jobs.id, id),
          inArray(jobs.status, ["completed_with_errors", "failed"]),
          // Rows rejected for bad data stay rejected; only whole failed chunks are re-run.
          sql`exists (select 1 from job_chunks where job_id = ${id} and status = 'failed')`,
        ),
      )
      .returning({ id: jobs.id });
    if (reopened.length === 0) return [];
    const chunks = await tx
      .update(jobChunks)
      .set({ status: "pending", error: null, rowsDone: 0, rowsFailed: 0, counters: {}, countsByKey: {}, completedAt: null })
      .where(and(eq(jobChunks.jobId, id), eq(jobChunks.status, "failed")))
      .returning({ chunk: jobChunks.chunk });
    return chunks.map((row) => row.chunk).sort((a, b) => a - b);
  });
}

/** The newest job of `kind` whose params hold `name: value` (e.g. the reconcile run an import started). */
export async function findJobByParam(db: Database, kind: string, name: string, value: string): Promise<JobRow | null> {
  const [row] = await db
    .select(jobColumns)
    .from(jobs)
    .where(and(eq(jobs.kind, kind), sql`${jobs.params} ->> ${name} = ${value}`))
    .orderBy(desc(jobs.createdAt))
    .limit(1);
  return (row as JobRow | undefined) ?? null;
}

/** Active jobs (of one kind, when given), oldest heartbeat first: the watchdog's list, and what may be in a new job's way. */
export async function activeJobs(db: Database, limit: number, kind?: string): Promise<JobRow[]> {
  const rows = await db
    .select(jobColumns)
    .from(jobs)
    .where(and(inArray(jobs.status, ACTIVE_STATUSES), kind === undefined ? undefined : eq(jobs.kind, kind)))
    .orderBy(asc(jobs.heartbeatAt))
    .limit(limit);
  return rows as JobRow[];
}

/**
 * Counts a publication of the job-wide step task (its deduplication generation) and
 * beats the heartbeat; null when the job is no longer running or its step is done.
 */
export async function markStepPublished(db: Database, id: string): Promise<number | null> {
  const [row] = await queryRows<{ publications: number }>(
    db,
    sql`update jobs set
          totals = totals || jsonb_build_object('step_publications', coalesce((totals->>'step_publications')::int, 0) + 1),
          heartbeat_at = now()
        where id = ${id} and status = 'running' and coalesce((totals->>'step_done')::boolean, false) = false
        returning (totals->>'step_publications')::int as publications`,
  );
  return row?.publications ?? null;
}

export async function markStepDone(db: Database, id: string): Promise<void> {
  await queryRows(db, sql`update jobs set totals = totals || '{"step_done": true}'::jsonb, heartbeat_at = now() where id = ${id}`);
}

/** Counts a re-publication of the plan task (the watchdog gives up after a few). */
export async function bumpPlanPublications(db: Database, id: string, publications: number): Promise<void> {
  await db
    .update(jobs)
    .set({
      totals: sql`${jobs.totals} || ${JSON.stringify({ plan_publications: publications })}::jsonb`,
      heartbeatAt: sql`now()`,
    })
    .where(eq(jobs.id, id));
}
