/**
 * Retention: what dropflow keeps only for a while, deleted in batches that stop
 * within the invocation's budget (the next cron run goes on where this one stopped):
 *  - searchable log records older than DROPFLOW_RETAIN_LOGS_DAYS;
 *  - finished jobs' detail older than DROPFLOW_RETAIN_JOB_DETAIL_DAYS: import row
 *    errors, dry-run rows, and the chunk rows of sync runs (an import's and a
 *    reconcile run's views are built from their chunk rows, so those stay);
 *  - uploaded files (buyers' names and addresses) DROPFLOW_RETAIN_UPLOADS_DAYS after
 *    their import finished; the file's row keeps `object_deleted_at`.
 * What is deleted is logged and counted (dropflow_retention_deleted_total).
 */
import { sql } from "drizzle-orm";
import { z } from "zod";
import { type Database, queryRows } from "../db/client.js";
import type { Logger } from "../log/index.js";
import type { MetricsStore } from "../kv/metrics-store.js";
import { applyMetrics } from "../metrics/record.js";
import type { ObjectStore } from "../storage/types.js";

/** Rows one statement deletes at most: short statements, and a budget check between them. */
const ROW_BATCH = 5_000;
/** Files one batch deletes. */
const FILE_BATCH = 100;
const ENDED = sql`('completed', 'completed_with_errors', 'completed_with_gaps', 'failed', 'cancelled')`;

/** What one retention pass deleted (GET /api/cron/retention). */
export const RetentionReportSchema = z.object({
  log_records: z.number().int(),
  row_errors: z.number().int(),
  dry_run_rows: z.number().int(),
  chunk_rows: z.number().int(),
  files: z.number().int(),
  finished: z.boolean().describe("False when the budget ran out first: the next run goes on."),
});
export type RetentionReport = z.infer<typeof RetentionReportSchema>;

export interface RetentionDeps {
  db: Database;
  objects: () => ObjectStore;
  ages: { logsDays: number; jobDetailDays: number; uploadsDays: number };
  timeLeftMs(): number;
  log: Logger;
  metrics?: MetricsStore;
}

/** Keeps one batch's time in hand. */
const MIN_TIME_MS = 5_000;

export async function sweepRetention(deps: RetentionDeps): Promise<RetentionReport> {
  const report: RetentionReport = { log_records: 0, row_errors: 0, dry_run_rows: 0, chunk_rows: 0, files: 0, finished: false };
  const { logsDays, jobDetailDays, uploadsDays } = deps.ages;
  const steps: Array<[keyof Omit<RetentionReport, "finished">, () => Promise<number>]> = [
    ["log_records", () => deleteBatch(deps.db, sql`delete from log_records where id in (select id from log_records where time < now() - make_interval(days => ${logsDays}::int) limit ${ROW_BATCH})`)],
    [
      "row_errors",
      () =>
        deleteBatch(
          deps.db,
          sql`delete from import_row_errors where id in (
                select e.id from import_row_errors e join jobs j on j.id = e.job_id
                where j.status in ${ENDED} and j.finished_at < now() - make_interval(days => ${jobDetailDays}::int) limit ${ROW_BATCH})`,
        ),
    ],
    [
      "dry_run_rows",
      () =>
        deleteBatch(
          deps.db,
          sql`delete from import_dry_run_rows d using (
                select r.job_id, r.row_type, r.key, r.rank_file, r.rank_line from import_dry_run_rows r join jobs j on j.id = r.job_id
                where j.status in ${ENDED} and j.finished_at < now() - make_interval(days => ${jobDetailDays}::int) limit ${ROW_BATCH}) old
              where (d.job_id, d.row_type, d.key, d.rank_file, d.rank_line) = (old.job_id, old.row_type, old.key, old.rank_file, old.rank_line)`,
        ),
    ],
    [
      "chunk_rows",
      () =>
        deleteBatch(
          deps.db,
          sql`delete from job_chunks c using (
                select c2.job_id, c2.chunk from job_chunks c2 join jobs j on j.id = c2.job_id
                where j.kind = 'sync' and j.status in ${ENDED} and j.finished_at < now() - make_interval(days => ${jobDetailDays}::int) limit ${ROW_BATCH}) old
              where (c.job_id, c.chunk) = (old.job_id, old.chunk)`,
        ),
    ],
    ["files", () => deleteFiles(deps, uploadsDays)],
  ];
  for (const [what, step] of steps) {
    for (;;) {
      if (deps.timeLeftMs() < MIN_TIME_MS) {
        await record(deps, report);
        return report;
      }
      const deleted = await step();
      report[what] += deleted;
      if (deleted < (what === "files" ? FILE_BATCH : ROW_BATCH)) break;
    }
  }
  report.finished = true;
  await record(deps, report);
  return report;
}

async function deleteBatch(db: Database, statement: ReturnType<typeof sql>): Promise<number> {
  const [row] = await queryRows<{ n: number }>(db, sql`with deleted as (${statement} returning 1) select count(*)::int as n from deleted`);
  return row?.n ?? 0;
}

/** One batch of old imports' files: the objects first, then the marks (a lost mark only deletes again). */
async function deleteFiles(deps: RetentionDeps, days: number): Promise<number> {
  const files = await queryRows<{ id: string; key: string; converted_key: string | null }>(
    deps.db,
    sql`select f.id, f.object_key as key, f.converted_key from import_files f join jobs j on j.id = f.job_id
        where f.object_deleted_at is null and j.status in ${ENDED} and j.finished_at < now() - make_interval(days => ${days}::int)
        limit ${FILE_BATCH}`,
  );
  return deleteImportObjects(deps.db, deps.objects(), files);
}

/** Deletes these files' objects (a workbook's converted CSV too) and marks them deleted; the upload records go too. */
export async function deleteImportObjects(
  db: Database,
  objects: ObjectStore,
  files: ReadonlyArray<{ id: string; key: string; converted_key: string | null }>,
): Promise<number> {
  if (files.length === 0) return 0;
  const keys = [...new Set(files.map((file) => file.key))];
  const converted = files.flatMap((file) => (file.converted_key ? [file.converted_key] : []));
  await objects.delete([...keys, ...converted]);
  await db.execute(sql`update import_files set object_deleted_at = now() where id = any(${sql.param(files.map((file) => file.id))}::uuid[])`);
  await db.execute(sql`delete from uploads where key = any(${sql.param(keys)}::text[])`);
  return files.length;
}

async function record(deps: RetentionDeps, report: RetentionReport): Promise<void> {
  const deleted = Object.entries(report).filter(([what, count]) => what !== "finished" && typeof count === "number" && count > 0) as Array<[string, number]>;
  if (deleted.length === 0) return;
  deps.log.info("retention deleted old records and files", { event: "retention_swept", ...report });
  if (deps.metrics) await applyMetrics(deps.metrics, deleted.map(([what, count]) => ({ metric: "retentionDeleted", labels: { what }, value: count })));
}
