/**
 * A run's results, page by page in (store, invoice) order: a keyset cursor on the
 * primary key (or on the (job, outcome, store, invoice) index for one outcome), never
 * OFFSET, so a page costs the same at the millionth row as at the first.
 */
import { invalidCursor, NextCursor } from "../jobs/list-cursor.js";
import { type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { type Database, queryRows } from "../db/client.js";
import { RECONCILE_OUTCOMES } from "../db/schema.js";
import type { ReconcileOutcome } from "./decide.js";

/** One (store, invoice) as a run decided it; amounts in whole rupiah. */
export const ResultViewSchema = z.object({
  store: z.string(),
  invoice: z.string(),
  outcome: z.enum(RECONCILE_OUTCOMES),
  expected: z.number().nullable(),
  actual: z.number().nullable(),
  diff: z.number().nullable(),
  split_invoice: z.boolean(),
  order_date: z.string().nullable(),
});
export type ResultView = z.infer<typeof ResultViewSchema>;

/** GET /api/reconcile/:id/results: the filters, the page and the format. */
export const ResultQuery = z.object({
  id: z.string().uuid(),
  outcome: z.enum(RECONCILE_OUTCOMES).optional(),
  store: z.string().trim().min(1).max(200).optional(),
  cursor: z.string().max(400).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  format: z.enum(["json", "csv"]).default("json"),
});

/** The JSON page of GET /api/reconcile/:id/results, in (store, invoice) order. */
export const ResultPageSchema = z.object({ results: z.array(ResultViewSchema), next_cursor: NextCursor });
export type ResultPage = z.infer<typeof ResultPageSchema>;

export interface ResultFilter {
  outcome?: ReconcileOutcome;
  storeId?: number;
}

interface ResultCursor {
  storeId: number;
  invoice: string;
}

export async function listResults(
  db: Database,
  jobId: string,
  filter: ResultFilter & { after?: ResultCursor; limit: number },
): Promise<{ results: ResultView[]; next: ResultCursor | null }> {
  const conditions: SQL[] = [sql`r.job_id = ${jobId}`];
  if (filter.outcome) conditions.push(sql`r.outcome = ${filter.outcome}`);
  if (filter.storeId !== undefined) conditions.push(sql`r.store_id = ${filter.storeId}`);
  if (filter.after) conditions.push(sql`(r.store_id, r.invoice) > (${filter.after.storeId}::int, ${filter.after.invoice}::text)`);
  const rows = await queryRows<ResultView & { store_id: number; [key: string]: unknown }>(
    db,
    sql`select r.store_id, s.name as store, r.invoice, r.outcome, r.expected, r.actual, r.diff, r.split_invoice,
               to_char(r.order_date, 'YYYY-MM-DD') as order_date
        from reconcile_results r join stores s on s.id = r.store_id
        where ${sql.join(conditions, sql` and `)}
        order by r.store_id, r.invoice
        limit ${filter.limit + 1}`,
  );
  const page = rows.slice(0, filter.limit).map(({ store_id: _storeId, ...row }) => ({
    ...row,
    expected: row.expected === null ? null : Number(row.expected),
    actual: row.actual === null ? null : Number(row.actual),
    diff: row.diff === null ? null : Number(row.diff),
  }));
  const last = rows[filter.limit - 1];
  return {
    results: page as ResultView[],
    next: rows.length > filter.limit && last ? { storeId: last.store_id, invoice: last.invoice } : null,
  };
}

export function encodeResultCursor(cursor: ResultCursor): string {
  return Buffer.from(JSON.stringify([cursor.storeId, cursor.invoice])).toString("base64url");
}

export function decodeResultCursor(text: string): ResultCursor {
  const invalid = invalidCursor;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch (error) {
    if (error instanceof SyntaxError) throw invalid();
    throw error;
  }
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    !Number.isInteger(value[0]) ||
    value[0] < 0 ||
    value[0] > 2_147_483_647 ||
    typeof value[1] !== "string" ||
    value[1].length > 200 ||
    value[1].includes("\u0000")
  ) {
    throw invalid();
  }
  return { storeId: value[0] as number, invoice: value[1] };
}
