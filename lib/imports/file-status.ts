/**
 * An import's files at its end (run by the import job kind's settle(), in the transaction
 * that writes the job's final status): each file's status and counts from its chunks'
 * outcomes (lib/jobs/outcomes.ts), every correction counted against the file it corrects.
 */
import { sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import type { JobStatus } from "../db/schema.js";
import { chunkOutcomes, sumCountsByKey } from "../jobs/outcomes.js";
import { FILE_ERROR_MEANINGS, type FileErrorCode } from "./csv/types.js";
import { ChunkPayload, type ImportParams } from "./job-params.js";
import type { TakenBack, UpsertCounts, WriteReport } from "./model.js";
import { WORKBOOK_ERROR_MEANINGS, type WorkbookErrorCode } from "./xlsx/errors.js";

/** Why a file failed or ended unread, besides its CSV (FILE_ERROR_MEANINGS): the planner's and the import's reasons. */
export const FILE_END_MEANINGS = {
  duplicate_file: "The same content as an earlier file of the import (the planner's SHA-256).",
  unknown_store: "A settlement report whose seller matches no store.",
  import_failed: "The import failed (planning gave up) before this file was read; see the import's last_error.",
  import_cancelled: "The import was cancelled before this file was read.",
} as const;

/** Every code an import's file can carry in `error.code`: its CSV's, its workbook's, the planner's and the import's. */
export type FileFailureCode = FileErrorCode | WorkbookErrorCode | keyof typeof FILE_END_MEANINGS;
export const FILE_FAILURE_MEANINGS: Record<FileFailureCode, string> = { ...FILE_ERROR_MEANINGS, ...WORKBOOK_ERROR_MEANINGS, ...FILE_END_MEANINGS };

/** The statuses an import's file shows (import_files.status). */
export const FILE_STATUSES = ["queued", "running", "completed", "completed_with_errors", "failed", "cancelled"] as const;

type RowType = "orders" | "settlements";
const OUTCOMES: ReadonlyArray<keyof UpsertCounts> = ["inserted", "updated", "unchanged"];

/**
 * A chunk's counts by the file they belong to (ChunkWork.countsByKey): its own file
 * gets everything it counted, and when it wrote a higher-ranked version of an order an
 * earlier chunk of the import had counted, that count is taken from the earlier
 * chunk's file. So per-file counts are the same whatever order the chunks committed in,
 * add up to the import's, and are never negative.
 */
export function chunkCountsByFile(
  ownFileId: string,
  counters: Record<string, number>,
  prefix: RowType,
  takenBack: TakenBack | undefined,
  fileIdAt: (position: number) => string | null,
): Record<string, Record<string, number>> {
  const byFile: Record<string, Record<string, number>> = { [ownFileId]: { ...counters } };
  const add = (fileId: string, name: string, value: number) => {
    const counts = (byFile[fileId] ??= {});
    counts[name] = (counts[name] ?? 0) + value;
  };
  for (const [position, counts] of takenBack ?? []) {
    const from = fileIdAt(position);
    for (const [outcome, value] of Object.entries(counts)) {
      if (value === 0 || from === null) continue;
      // `counters` are net: the own file counted its version before taking the correction off.
      add(ownFileId, `${prefix}_${outcome}`, value);
      add(from, `${prefix}_${outcome}`, -value);
    }
  }
  return byFile;
}

/** What a chunk's write should report: always what it takes back; in a dry run also each row's outcome. */
export function writeReport(dryRun: boolean): WriteReport & { takenBack: TakenBack } {
  return dryRun ? { takenBack: new Map(), outcomes: [] } : { takenBack: new Map() };
}

/**
 * A dry run's chunk keeps each distinct row's outcome (committed with the chunk, outside
 * the savepoint its writes were rolled back in): no later chunk will see its version, so
 * the import is counted at its end from these instead (settleImportFiles).
 */
export async function recordDryRunRows(
  db: Database,
  jobId: string,
  rowType: RowType,
  report: WriteReport,
  keyOf: (key: string) => string = (key) => key,
): Promise<void> {
  const outcomes = report.outcomes ?? [];
  if (outcomes.length === 0) return;
  const p = (values: unknown[]) => sql.param(values);
  await queryRows(
    db,
    sql`insert into import_dry_run_rows (job_id, row_type, key, rank_file, rank_line, outcome)
        select ${jobId}::uuid, ${rowType}, * from unnest(
          ${p(outcomes.map((row) => keyOf(row.key)))}::text[], ${p(outcomes.map((row) => row.rank.file))}::int[],
          ${p(outcomes.map((row) => row.rank.line))}::int[], ${p(outcomes.map((row) => row.count))}::text[])
        on conflict do nothing`,
  );
}

/**
 * A dry run's counts as a real run would have made them: each row counted once, by
 * its highest-ranked version, in the file that holds that version. Rows are kept
 * while a chunk has failed (a retry re-runs only that chunk) and dropped otherwise.
 */
async function dryRunCounts(
  db: Database,
  jobId: string,
  dropRows: boolean,
): Promise<Array<{ rowType: RowType; outcome: keyof UpsertCounts; position: number; rows: number }>> {
  const counted = await queryRows<{ rowType: RowType; outcome: keyof UpsertCounts; position: number; rows: number }>(
    db,
    sql`select row_type as "rowType", outcome, rank_file as position, count(*)::int as rows from (
          select distinct on (row_type, key) row_type, outcome, rank_file from import_dry_run_rows
          where job_id = ${jobId} order by row_type, key, rank_file desc, rank_line desc
        ) final_versions
        group by row_type, outcome, rank_file`,
  );
  if (dropRows) await queryRows(db, sql`delete from import_dry_run_rows where job_id = ${jobId}`);
  return counted;
}

/**
 * Writes every file's final status and counts; returns how many files failed and, for
 * a dry run, the import's row counts (which replace the chunks' sums).
 */
export async function settleImportFiles(
  db: Database,
  jobId: string,
  params: ImportParams,
  status: JobStatus,
): Promise<{ filesFailed: number; dryRunCounts: Record<string, number> }> {
  const chunks = await chunkOutcomes(db, jobId, ChunkPayload);
  const countsByFile = sumCountsByKey(chunks);
  const files = [...new Set(chunks.map((chunk) => chunk.payload.file_id))].map((id) => {
    const own = chunks.filter((chunk) => chunk.payload.file_id === id);
    return {
      id,
      failed: own.some((chunk) => chunk.status === "failed"),
      cancelled: own.some((chunk) => chunk.status === "cancelled"),
      counts: countsByFile[id] ?? {},
    };
  });
  const totals: Record<string, number> = {};
  if (params.dry_run) {
    const counted = await dryRunCounts(db, jobId, !chunks.some((chunk) => chunk.status === "failed"));
    const fileAt = new Map(params.files.map((file) => [file.position, file.id]));
    const rowTypes = new Set<RowType>(
      (["orders", "settlements"] as const).filter((rowType) => chunks.some((c) => `${rowType}_inserted` in c.counters)),
    );
    for (const rowType of rowTypes) {
      for (const outcome of OUTCOMES) {
        totals[`${rowType}_${outcome}`] = 0;
        for (const file of files) file.counts[`${rowType}_${outcome}`] = 0;
      }
    }
    for (const { rowType, outcome, position, rows } of counted) {
      const name = `${rowType}_${outcome}`;
      totals[name] = (totals[name] ?? 0) + rows;
      const file = files.find((one) => one.id === fileAt.get(position));
      if (file) file.counts[name] = (file.counts[name] ?? 0) + rows;
    }
  }
  if (files.length > 0) {
    await queryRows(
      db,
      sql`update import_files f set
            counts = v.counts,
            status = case when v.cancelled then 'cancelled'
                          when v.failed or coalesce((v.counts->>'row_errors')::int, 0) > 0
                          then 'completed_with_errors' else 'completed' end,
            updated_at = now()
          from unnest(${sql.param(files.map((file) => file.id))}::uuid[],
                      ${sql.param(files.map((file) => JSON.stringify(file.counts)))}::jsonb[],
                      ${sql.param(files.map((file) => file.failed))}::boolean[],
                      ${sql.param(files.map((file) => file.cancelled))}::boolean[]) as v(id, counts, failed, cancelled)
          where f.id = v.id and f.job_id = ${jobId} and f.status <> 'failed'`,
    );
  }
  // Files with no chunk (a header and nothing else) are done; when the whole import
  // failed (planning gave up) or was cancelled before its plan, files it never reached
  // end with it.
  const unreached = unreachedFileStatus(status, chunks.length > 0);
  await queryRows(
    db,
    sql`update import_files set
          status = ${unreached.status},
          error_code = ${unreached.code},
          error_message = ${unreached.message},
          updated_at = now()
        where job_id = ${jobId} and status in ('queued', 'planning', 'running')
          and not (id = any(${sql.param(files.map((file) => file.id))}::uuid[]))`,
  );
  // Rows a dry run kept for a retry that never came go a week after it finished.
  await queryRows(
    db,
    sql`delete from import_dry_run_rows r using jobs j
        where r.job_id = j.id and j.finished_at < now() - interval '7 days'`,
  );
  const [refused] = await queryRows<{ failed: number }>(
    db,
    sql`select count(*)::int as failed from import_files where job_id = ${jobId} and status = 'failed'`,
  );
  return { filesFailed: refused?.failed ?? 0, dryRunCounts: totals };
}

/** What a file with no chunk ends as: done (nothing to read), or with the import that never reached it. */
function unreachedFileStatus(
  status: JobStatus,
  planned: boolean,
): { status: (typeof FILE_STATUSES)[number]; code: FileFailureCode | null; message: string | null } {
  if (status === "failed") {
    return {
      status: "failed",
      code: "import_failed",
      message: "the import failed before this file was read; see the import's last_error",
    };
  }
  if (status === "cancelled" && !planned) {
    return { status: "cancelled", code: "import_cancelled", message: "the import was cancelled before this file was read" };
  }
  return { status: "completed", code: null, message: null };
}
