import { z } from "zod";
import { JOB_STATUSES } from "../../lib/db/schema.js";
import { AppError } from "../../lib/errors.js";
import { json, route } from "../../lib/http/index.js";
import { listJobs } from "../../lib/jobs/index.js";

const Query = z.object({
  kind: z.string().min(1).max(50).optional(),
  status: z.enum(JOB_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

const CURSOR_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,6})?Z$/;
const EARLIEST = Date.parse("0001-01-01T00:00:00Z");

/** A time Postgres accepts: JS rolls 2020-02-30 over to March and knows a year 0; Postgres refuses both. */
function isCursorTime(text: string): boolean {
  const match = CURSOR_TIME.exec(text);
  const ms = Date.parse(text);
  return match !== null && ms >= EARLIEST && new Date(ms).toISOString().slice(0, 19) === match[1];
}

/** Opaque keyset cursor: the (created_at to the microsecond, id) of the last job of the previous page. */
function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  if (!createdAt || !isCursorTime(createdAt) || !id || !z.string().uuid().safeParse(id).success) {
    throw new AppError("validation_failed", "Invalid cursor.", {
      fields: [{ field: "cursor", location: "query", message: "not a cursor this API returned" }],
    });
  }
  return { createdAt, id };
}

export const GET = route({ operation: "listJobs", auth: "api", query: Query }, async ({ query, runtime }) => {
  const engine = await runtime.engine();
  const { db } = await runtime.database();
  const rows = await listJobs(db, {
    kind: query.kind,
    status: query.status,
    limit: query.limit + 1,
    after: query.cursor ? decodeCursor(query.cursor) : undefined,
  });
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  const nextCursor =
    rows.length > query.limit && last
      ? Buffer.from(`${last.createdAtExact}|${last.id}`).toString("base64url")
      : null;
  return json({ jobs: await Promise.all(page.map((job) => engine.view(job))), next_cursor: nextCursor });
});

const CreateBody = z.object({ kind: z.string().min(1).max(50), params: z.record(z.string(), z.unknown()).default({}) });

/**
 * Creates a job of a kind that allows it (the test and benchmark kinds); imports,
 * reconcile runs and syncs have their own routes that validate their input.
 */
export const POST = route(
  { operation: "createJob", auth: "api", body: CreateBody },
  async ({ body, runtime, correlationId }) => {
    if (!runtime.jobKinds.get(body.kind)?.creatableViaApi) {
      throw new AppError("validation_failed", `Jobs of kind "${body.kind}" cannot be created here.`, {
        fields: [{ field: "kind", location: "body", message: "not a kind this route creates" }],
      });
    }
    const engine = await runtime.engine();
    const job = await engine.createJob(body.kind, body.params, correlationId);
    return json(await engine.view(job), { status: 202, headers: { location: `/api/jobs/${job.id}` } });
  },
);
