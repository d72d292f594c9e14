/**
 * What GET /api/imports/:id shows: the job's status and progress, the import's
 * counters (always every one of them), errors by code, each file, the first errors,
 * and the reconcile run it started (reconcile: true). The completion webhook sends the same.
 */
import { asc, eq, sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import { importFiles } from "../db/schema.js";
import { AppError } from "../errors.js";
import { chunkCounterSums, type JobEngine, type JobRow, type JobView } from "../jobs/index.js";
import { findJobByParam } from "../jobs/repository.js";
import { RECONCILE_KIND } from "../reconcile/params.js";
import { IMPORT_COUNTERS, IMPORT_KIND } from "./job-params.js";

/** The import `id`, or 404: a job of another kind is no import (every /api/imports/:id route). */
export async function requireImport(engine: JobEngine, id: string): Promise<JobRow> {
  const job = await engine.requireJob(id);
  if (job.kind !== IMPORT_KIND) throw new AppError("not_found", `No import ${id}.`);
  return job;
}

export type RowErrorView = {
  file: string;
  line: number;
  column: string | null;
  code: string;
  message: string;
  raw: string | null;
};

export async function importStatus(db: Database, view: JobView) {
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
    counts,
    errors_by_code: Object.fromEntries(byCode.map((row) => [row.code, row.n])),
    files: files.map((file) => ({
      id: file.id,
      name: file.name,
      size: file.size,
      status: file.status,
      error: file.errorCode ? { code: file.errorCode, message: file.errorMessage ?? "" } : null,
      counts: file.counts,
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
    sql`select e.id, f.name as file, e.line, e."column", e.code, e.message, e.raw
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
function fileTypeOf(params: unknown): string | null {
  const { file_type: fileType, kind } = (params ?? {}) as { file_type?: string; kind?: string };
  return fileType ?? kind ?? null;
}
