/**
 * What GET /api/imports/:id shows: the job's status and progress, the import's
 * counters (always every one of them), errors by code, each file, the first errors,
 * and the reconcile run it started (reconcile: true). The completion webhook sends the same.
 */
import { asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { type Database, queryRows } from "../db/client.js";
import { importFiles, JOB_STATUSES } from "../db/schema.js";
import { AppError } from "../errors.js";
import { chunkCounterSums, type JobEngine, type JobRow, type JobView, JobViewSchema, NextCursor, ProgressSchema } from "../jobs/index.js";
import { findJobByParam } from "../jobs/repository.js";
import { RECONCILE_KIND } from "../reconcile/params.js";
import { FILE_FAILURE_MEANINGS, FILE_STATUSES, type FileFailureCode } from "./file-status.js";
import { IMPORT_COUNTERS, IMPORT_KIND } from "./job-params.js";
import { ROW_CODE_MEANINGS, type RowErrorCode } from "./purchase-rows.js";

/** The import `id`, or 404: a job of another kind is no import (every /api/imports/:id route). */
export async function requireImport(engine: JobEngine, id: string): Promise<JobRow> {
  const job = await engine.requireJob(id);
  if (job.kind !== IMPORT_KIND) throw new AppError("not_found", `No import ${id}.`);
  return job;
}

const ROW_CODES = Object.keys(ROW_CODE_MEANINGS) as [RowErrorCode, ...RowErrorCode[]];
const FILE_FAILURE_CODES = Object.keys(FILE_FAILURE_MEANINGS) as [FileFailureCode, ...FileFailureCode[]];
const count = z.number().int();

/** One row error or warning, as GET /api/imports/:id/errors lists it. */
export const RowErrorViewSchema = z
  .object({
    file: z.string().describe("The file's name."),
    line: count.describe("The physical line where the record starts; in a workbook, Excel's row number."),
    column: z.string().nullable().describe("The header as written in the file; null for a problem of the whole record."),
    sheet: z.string().nullable().describe("A workbook's row error: the sheet; null for a CSV file."),
    cell: z
      .string()
      .nullable()
      .describe("A workbook's row error: the cell as Excel refers to it (`Income!H57`, or `Income!57:57` for the whole row); null for a CSV file."),
    code: z.enum(ROW_CODES),
    message: z.string(),
    raw: z.string().nullable().describe("The record as written (a workbook's: the row as CSV)."),
  })
  .meta({ id: "RowError" });
export type RowErrorView = z.infer<typeof RowErrorViewSchema>;

/** GET /api/imports/:id/errors: the filters, the page and the format. */
export const RowErrorQuery = z.object({
  id: z.string().uuid(),
  code: z.string().max(40).optional(),
  file: z.string().uuid().optional().describe("A file id of the import."),
  cursor: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  format: z.enum(["json", "csv"]).default("json"),
});

/** The JSON page of GET /api/imports/:id/errors, in the order found. */
export const RowErrorPageSchema = z.object({ errors: z.array(RowErrorViewSchema), next_cursor: NextCursor });
export type RowErrorPage = z.infer<typeof RowErrorPageSchema>;

/** GET /api/imports/:id; the completion webhook sends it too. */
export const ImportStatusSchema = z
  .object({
    id: z.string(),
    file_type: z.enum(["purchases", "settlements"]).nullable(),
    status: z.enum(JOB_STATUSES),
    dry_run: z.boolean(),
    created_at: z.string(),
    finished_at: z.string().nullable(),
    last_error: z.string().nullable(),
    progress: ProgressSchema,
    counts: z.record(z.enum(IMPORT_COUNTERS), count).describe("The chunks' sums so far while it runs; the final counters once it has ended."),
    errors_by_code: z.partialRecord(z.enum(ROW_CODES), count).describe("Row errors and warnings by code."),
    files: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        size: count,
        status: z.enum(FILE_STATUSES),
        sheet: z.string().nullable().describe("A workbook: the sheet imported (chosen by its header, or named with `sheet`); null for a CSV file."),
        error: z.object({ code: z.enum(FILE_FAILURE_CODES), message: z.string() }).nullable(),
        counts: z.record(z.string(), z.number()).describe("The import's counters summed over this file's chunks."),
      }),
    ),
    first_errors: z.array(RowErrorViewSchema).describe("The first 20 row errors and warnings."),
    reconcile: z.boolean(),
    reconcile_job_id: z.string().nullable().describe("The reconcile run the import started once it ended (reconcile: true), when it has."),
  })
  .meta({ id: "ImportStatus" });
export type ImportStatus = z.infer<typeof ImportStatusSchema>;

/** GET /api/imports: a page of imports as job views, newest first. */
export const ImportListSchema = z.object({ imports: z.array(JobViewSchema), next_cursor: NextCursor });
export type ImportList = z.infer<typeof ImportListSchema>;

/** POST /api/imports/:id/retry: how many chunks run again, and where to follow the import. */
export const ImportRetriedSchema = z.object({ retried_chunks: count, status_url: z.string() });
export type ImportRetried = z.infer<typeof ImportRetriedSchema>;

export async function importStatus(db: Database, view: JobView): Promise<ImportStatus> {
  const files = await db
    .select()
    .from(importFiles)
    .where(eq(importFiles.jobId, view.id))
    .orderBy(asc(importFiles.position));
  const byCode = await queryRows<{ code: string; n: number }>(
    db,
    sql`select code, count(*)::int as n from import_row_errors where job_id = ${view.id} group by code order by code`,
  );
  const firstErrors = await listRowErrors(db, view.id, { limit: 20 });
  // A finished import's counters are the job's final ones (a dry run's are only
  // known then: lib/imports/file-status.ts); while it runs, its chunks' sums so far.
  const final = view.finished_at !== null;
  const summed = final ? view.counters : await chunkCounterSums(db, view.id);
  const counts = Object.fromEntries(IMPORT_COUNTERS.map((name) => [name, summed[name] ?? 0]));
  const reconcile = (view.params as { reconcile?: boolean }).reconcile === true;
  // The run this import started once it ended, when it has (lib/reconcile/after-import.ts).
  const reconcileRun = reconcile ? await findJobByParam(db, RECONCILE_KIND, "after_import", view.id) : null;
  return {
    id: view.id,
    file_type: fileTypeOf(view.params),
    status: view.status,
    dry_run: (view.params as { dry_run?: boolean }).dry_run ?? false,
    created_at: view.created_at,
    finished_at: view.finished_at,
    last_error: view.last_error,
    progress: view.progress,
    counts: counts as ImportStatus["counts"],
    errors_by_code: Object.fromEntries(byCode.map((row) => [row.code, row.n])) as Partial<Record<RowErrorCode, number>>,
    files: files.map((file) => ({
      id: file.id,
      name: file.name,
      size: file.size,
      // The columns are text; what writes them writes only these values.
      status: file.status as (typeof FILE_STATUSES)[number],
      sheet: file.sheet,
      error: file.errorCode ? { code: file.errorCode as FileFailureCode, message: file.errorMessage ?? "" } : null,
      counts: file.counts as Record<string, number>,
    })),
    first_errors: firstErrors.errors,
    reconcile,
    reconcile_job_id: reconcileRun?.id ?? null,
  };
}

export async function listRowErrors(
  db: Database,
  jobId: string,
  query: { code?: string; fileId?: string; afterId?: number; limit: number },
): Promise<{ errors: RowErrorView[]; nextId: number | null }> {
  const rows = await queryRows<RowErrorView & { id: number }>(
    db,
    sql`select e.id, f.name as file, e.line, e."column", e.sheet, e.cell, e.code, e.message, e.raw
        from import_row_errors e join import_files f on f.id = e.file_id
        where e.job_id = ${jobId}
          ${query.code ? sql`and e.code = ${query.code}` : sql``}
          ${query.fileId ? sql`and e.file_id = ${query.fileId}::uuid` : sql``}
          ${query.afterId ? sql`and e.id > ${query.afterId}` : sql``}
        order by e.id limit ${query.limit + 1}`,
  );
  const page = rows.slice(0, query.limit);
  return {
    errors: page.map(({ id: _id, ...error }) => error),
    nextId: rows.length > query.limit ? Number(page.at(-1)?.id ?? 0) : null,
  };
}

/** The import's file type; a job stored before the rename names it `kind`. */
function fileTypeOf(params: unknown): ImportStatus["file_type"] {
  type FileType = NonNullable<ImportStatus["file_type"]>;
  const { file_type: fileType, kind } = (params ?? {}) as { file_type?: FileType; kind?: FileType };
  return fileType ?? kind ?? null;
}
