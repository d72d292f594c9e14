/**
 * The searchable logs in Postgres: a batch of records in one set-based insert, and
 * the search of GET /api/logs (by correlation id, job, level, time and text), in the
 * order things happened (by their time, whichever process flushed them first), so
 * following one correlation id reads as the story of what happened.
 */
import { invalidCursor, NextCursor } from "../jobs/list-cursor.js";
import { containsPattern } from "../db/like.js";
import { sql } from "drizzle-orm";
import { z } from "zod";
import { type Database, queryRows } from "../db/client.js";
import type { LogRecord } from "../log/index.js";

const LEVELS = ["debug", "info", "warn", "error"] as const;

/** NUL is the one character Postgres text refuses. */
const clean = (value: unknown): string | null => (value === undefined || value === null ? null : String(value).replaceAll("\u0000", "").slice(0, 4000));

export async function insertLogRecords(db: Database, records: readonly LogRecord[]): Promise<void> {
  if (records.length === 0) return;
  const column = <T>(pick: (record: LogRecord) => T) => sql.param(records.map(pick));
  await db.execute(
    sql`insert into log_records (time, level, service, operation, correlation_id, job_id, event, msg, fields)
        select * from unnest(
          ${column((r) => r.time)}::timestamptz[], ${column((r) => r.level)}::text[], ${column((r) => clean(r.service))}::text[],
          ${column((r) => clean(r.operation))}::text[], ${column((r) => clean(r.correlation_id))}::text[], ${column((r) => clean(r.job_id))}::text[],
          ${column((r) => clean(r.event))}::text[], ${column((r) => clean(r.msg) ?? "")}::text[],
          ${column((r) => JSON.stringify(restOf(r)).replaceAll("\\\\u0000", ""))}::jsonb[])`,
  );
}

function restOf(record: LogRecord): Record<string, unknown> {
  const { time: _t, level: _l, service: _s, operation: _o, correlation_id: _c, job_id: _j, event: _e, msg: _m, ...rest } = record;
  return rest;
}

export const LogQuery = z.object({
  correlation_id: z.string().min(1).max(128).optional(),
  job_id: z.string().min(1).max(64).optional(),
  /** This level and above. */
  level: z.enum(LEVELS).optional(),
  since: z.string().datetime({ offset: true }).optional(),
  q: z.string().trim().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  cursor: z.string().max(40).optional(),
});
export type LogQuery = z.output<typeof LogQuery>;

export const StoredLogRecordSchema = z.object({
  time: z.string(),
  level: z.enum(LEVELS),
  service: z.string(),
  operation: z.string().nullable(),
  correlation_id: z.string().nullable(),
  job_id: z.string().nullable(),
  event: z.string().nullable().describe("A job lifecycle event (created, planned, chunk claimed, …), when the record is one."),
  msg: z.string(),
  fields: z.record(z.string(), z.unknown()),
});
export type StoredLogRecord = z.infer<typeof StoredLogRecordSchema>;

/** GET /api/logs: a page of records in time order. */
export const LogPageSchema = z.object({ records: z.array(StoredLogRecordSchema), next_cursor: NextCursor });
export type LogPage = z.infer<typeof LogPageSchema>;

export async function searchLogs(db: Database, query: LogQuery): Promise<LogPage> {
  let after: { time: string; id: number } | null = null;
  if (query.cursor !== undefined) {
    const [time, id] = Buffer.from(query.cursor, "base64url").toString("utf8").split("|");
    const valid = time !== undefined && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(time) && !Number.isNaN(Date.parse(time)) && Number.isSafeInteger(Number(id));
    if (!valid) {
      throw invalidCursor();
    }
    after = { time: time as string, id: Number(id) };
  }
  const levels = query.level ? LEVELS.slice(LEVELS.indexOf(query.level)) : null;
  const pattern = query.q ? containsPattern(query.q.replaceAll("\u0000", "")) : null;
  const rows = await queryRows<StoredLogRecord & { id: number } & Record<string, unknown>>(
    db,
    sql`select id, to_char(time at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as time, level, service, operation,
               correlation_id, job_id, event, msg, fields
        from log_records
        where true
          ${query.correlation_id ? sql`and correlation_id = ${query.correlation_id}` : sql``}
          ${query.job_id ? sql`and job_id = ${query.job_id}` : sql``}
          ${levels ? sql`and level = any(${sql.param([...levels])}::text[])` : sql``}
          ${query.since ? sql`and time >= ${query.since}::timestamptz` : sql``}
          ${pattern ? sql`and (msg ilike ${pattern} or fields::text ilike ${pattern})` : sql``}
          ${after !== null ? sql`and (time, id) > (${after.time}::timestamptz, ${after.id})` : sql``}
        order by time, id limit ${query.limit + 1}`,
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    records: page.map(({ id: _id, ...record }) => record),
    next_cursor: rows.length > query.limit && last ? Buffer.from(`${last.time}|${last.id}`).toString("base64url") : null,
  };
}
