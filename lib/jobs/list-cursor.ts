/**
 * The opaque keyset cursor of job lists (GET /api/jobs, /api/imports, /api/reconcile):
 * the (created_at to the microsecond, id) of the last job of the previous page.
 */
import { z } from "zod";
import type { Database } from "../db/client.js";
import { JOB_STATUSES } from "../db/schema.js";
import { AppError } from "../errors.js";
import { JobViewSchema } from "./engine.js";
import { type ListedJob, listJobs } from "./repository.js";

/** The query of every job list route: a status filter, a page size, the cursor of the page before. */
export const JobListQuery = z.object({
  status: z.enum(JOB_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});
export type JobListQuery = z.output<typeof JobListQuery>;

/** GET /api/jobs: every kind's jobs, or one kind's. */
export const JobListByKindQuery = JobListQuery.extend({ kind: z.string().min(1).max(50).optional() });

/** The `next_cursor` of every paged list: pass it back as `cursor` for the next page; null on the last. */
export const NextCursor = z.string().nullable().describe("The next page's `cursor`; null on the last page.");

/** GET /api/jobs: a page of job views, newest first. */
export const JobListSchema = z.object({ jobs: z.array(JobViewSchema), next_cursor: NextCursor });
export type JobList = z.infer<typeof JobListSchema>;

/** One page of jobs (of `kind`, when given), newest first, and the cursor of the next. */
export async function listJobPage(
  db: Database,
  kind: string | undefined,
  query: JobListQuery,
): Promise<{ page: ListedJob[]; nextCursor: string | null }> {
  const rows = await listJobs(db, {
    kind,
    status: query.status,
    limit: query.limit + 1,
    after: query.cursor ? decodeJobCursor(query.cursor) : undefined,
  });
  return jobPage(rows, query.limit);
}

const CURSOR_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,6})?Z$/;
const EARLIEST = Date.parse("0001-01-01T00:00:00Z");

/** A time Postgres accepts: JS rolls 2020-02-30 over to March and knows a year 0; Postgres refuses both. */
function isCursorTime(text: string): boolean {
  const match = CURSOR_TIME.exec(text);
  const ms = Date.parse(text);
  return match !== null && ms >= EARLIEST && new Date(ms).toISOString().slice(0, 19) === match[1];
}

/** The 400 of every list route given a cursor it did not hand out. */
export function invalidCursor(): AppError {
  return new AppError("validation_failed", "Invalid cursor.", {
    fields: [{ field: "cursor", location: "query", message: "not a cursor this API returned" }],
  });
}

export function decodeJobCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  if (!createdAt || !isCursorTime(createdAt) || !id || !z.string().uuid().safeParse(id).success) throw invalidCursor();
  return { createdAt, id };
}

/**
 * A page of `rows` fetched with `limit + 1`: the page, and the cursor of the next one
 * (null on the last page).
 */
export function jobPage(rows: ListedJob[], limit: number): { page: ListedJob[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const nextCursor = rows.length > limit && last ? Buffer.from(`${last.createdAtExact}|${last.id}`).toString("base64url") : null;
  return { page, nextCursor };
}
