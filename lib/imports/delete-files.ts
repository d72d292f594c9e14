/**
 * DELETE /api/imports/:id/files: a finished import's uploaded files deleted at once
 * (the retention cron does the same after DROPFLOW_RETAIN_UPLOADS_DAYS). Its counts,
 * row errors and data stay; `import_files.object_deleted_at` records the deletion.
 */
import { sql } from "drizzle-orm";
import { z } from "zod";
import { type Database, queryRows } from "../db/client.js";
import { AppError } from "../errors.js";
import type { JobEngine } from "../jobs/index.js";
import { TERMINAL_STATUSES } from "../jobs/repository.js";
import { logger } from "../log/index.js";
import { deleteImportObjects } from "../retention/sweep.js";
import type { ObjectStore } from "../storage/types.js";
import { IMPORT_KIND } from "./job-params.js";

const log = logger("imports");

export const ImportFilesDeletedSchema = z.object({ id: z.string(), files_deleted: z.number().int() });
export type ImportFilesDeleted = z.infer<typeof ImportFilesDeletedSchema>;

export async function deleteImportFiles(db: Database, objects: ObjectStore, engine: JobEngine, jobId: string): Promise<ImportFilesDeleted> {
  const job = await engine.requireJob(jobId);
  if (job.kind !== IMPORT_KIND) throw new AppError("not_found", `No import ${jobId}.`);
  if (!TERMINAL_STATUSES.includes(job.status)) {
    throw new AppError("conflict", `Import ${jobId} is still ${job.status}: its files are deleted once it has ended (cancel it first to stop it).`);
  }
  const files = await queryRows<{ id: string; key: string; converted_key: string | null }>(
    db,
    sql`select id, object_key as key, converted_key from import_files where job_id = ${jobId}::uuid and object_deleted_at is null`,
  );
  const deleted = await deleteImportObjects(db, objects, files);
  log.info("import files deleted", { event: "import_files_deleted", job_id: jobId, files: deleted });
  return { id: jobId, files_deleted: deleted };
}
