/**
 * The sync_runs rows beside the sync jobs: created with the job (its partial unique
 * index is the one-run-per-source-and-account rule), then the count at the start, the
 * verdict of the job-wide step, a fatal error, and the end.
 */
import { sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import type { SyncMode, SyncSource } from "../db/schema.js";

export interface SyncRunRow {
  jobId: string;
  source: SyncSource;
  account: string;
  mode: SyncMode;
  since: string | null;
  expectedAtStart: number | null;
  expectedAtEnd: number | null;
  seen: number | null;
  retired: number | null;
  gaps: string | null;
  fatal: string | null;
  startError: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

const COLUMNS = sql`job_id as "jobId", source, account, mode, since::text as since, expected_at_start as "expectedAtStart",
  expected_at_end as "expectedAtEnd", seen, retired, gaps, fatal, start_error as "startError", started_at as "startedAt", finished_at as "finishedAt"`;

/** Inserts the run's row; false when a run of this source and account is still active. */
export async function insertSyncRun(
  tx: Database,
  run: { jobId: string; source: SyncSource; account: string; mode: SyncMode; since: string | null },
): Promise<boolean> {
  const rows = await queryRows<{ job_id: string }>(
    tx,
    sql`insert into sync_runs (job_id, source, account, mode, since)
        values (${run.jobId}::uuid, ${run.source}, ${run.account}, ${run.mode}, ${run.since}::date)
        on conflict (source, account) where finished_at is null do nothing
        returning job_id`,
  );
  return rows.length === 1;
}

/** The active run of a source and account, if any. */
export async function activeSyncRun(db: Database, source: SyncSource, account: string): Promise<string | null> {
  const [row] = await queryRows<{ job_id: string }>(
    db,
    sql`select job_id from sync_runs where source = ${source} and account = ${account} and finished_at is null`,
  );
  return row?.job_id ?? null;
}

export async function findSyncRun(db: Database, jobId: string, options: { forUpdate?: boolean } = {}): Promise<SyncRunRow | null> {
  const [row] = await queryRows<SyncRunRow & Record<string, unknown>>(
    db,
    sql`select ${COLUMNS} from sync_runs where job_id = ${jobId}::uuid ${options.forUpdate ? sql`for update` : sql``}`,
  );
  return row ?? null;
}

export async function findSyncRuns(db: Database, jobIds: readonly string[]): Promise<Map<string, SyncRunRow>> {
  if (jobIds.length === 0) return new Map();
  const rows = await queryRows<SyncRunRow & Record<string, unknown>>(
    db,
    sql`select ${COLUMNS} from sync_runs where job_id = any(${sql.param([...jobIds])}::uuid[])`,
  );
  return new Map(rows.map((row) => [row.jobId, row]));
}

/** The day the last complete run of the source and account started (for an incremental run's overlap). */
export async function lastCompleteRunDay(db: Database, source: SyncSource, account: string): Promise<string | null> {
  const [row] = await queryRows<{ day: string }>(
    db,
    sql`select (r.started_at at time zone 'UTC')::date::text as day from sync_runs r join jobs j on j.id = r.job_id
        where r.source = ${source} and r.account = ${account} and j.status = 'completed'
        order by r.started_at desc limit 1`,
  );
  return row?.day ?? null;
}

export async function recordExpectedAtStart(tx: Database, jobId: string, expected: number): Promise<void> {
  await tx.execute(sql`update sync_runs set expected_at_start = ${expected} where job_id = ${jobId}::uuid`);
}

/** The first fatal error wins; true when this call recorded it. */
export async function recordFatal(db: Database, jobId: string, reason: string): Promise<void> {
  await db.execute(sql`update sync_runs set fatal = coalesce(fatal, ${reason.slice(0, 1000)}) where job_id = ${jobId}::uuid`);
}

/** The error the start retries on (kept outside the start's transaction, which rolls back). */
export async function recordStartError(db: Database, jobId: string, reason: string): Promise<void> {
  await db.execute(sql`update sync_runs set start_error = ${reason.slice(0, 1000)} where job_id = ${jobId}::uuid`);
}

export async function recordVerdict(
  tx: Database,
  jobId: string,
  verdict: { expectedAtEnd: number | null; seen: number; retired: number; gaps: string | null },
): Promise<void> {
  await tx.execute(
    sql`update sync_runs set expected_at_end = ${verdict.expectedAtEnd}, seen = ${verdict.seen}, retired = ${verdict.retired},
          gaps = ${verdict.gaps} where job_id = ${jobId}::uuid`,
  );
}

/** Ends the run (idempotent): its source and account are free for the next one. */
export async function finishSyncRun(db: Database, jobId: string): Promise<void> {
  await db.execute(sql`update sync_runs set finished_at = coalesce(finished_at, now()) where job_id = ${jobId}::uuid`);
}
