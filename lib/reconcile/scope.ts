/**
 * A run's scope as SQL, the one definition the planner and the chunks share so that
 * both count the same invoices:
 * - an invoice is a (store, invoice number) with at least one purchase; its order date
 *   is its earliest purchase's, as a day in Asia/Jakarta; `from`/`to` filter on it and
 *   `status` keeps invoices with a purchase of that class;
 * - an orphan is a settlement whose invoice has no purchase in its store; `from`/`to`
 *   filter on the settlement's order date, and a run with `status` has none.
 */
import { type SQL, sql } from "drizzle-orm";
import type { RangeKey, ReconcileParams } from "./params.js";
import { statusClassSql } from "./status-classes.js";

/** The store and date filters alone: what the margin report shares with a run. */
export type StoreAndDayScope = Pick<ReconcileParams, "store_ids" | "from" | "to">;

/** The day of a timestamp in the sellers' time zone. */
export const jakartaDay = (timestamp: SQL): SQL => sql`((${timestamp}) at time zone 'Asia/Jakarta')::date`;

/** `storeColumn` is one of the run's stores (true for every store). */
export function storeFilter(params: StoreAndDayScope, storeColumn: SQL): SQL {
  if (params.store_ids === null) return sql`true`;
  return sql`${storeColumn} in (${sql.join(
    params.store_ids.map((id) => sql`${id}`),
    sql`, `,
  )})`;
}

/** `day` within the run's from/to (true without them; a null day is outside any bound). */
export function dayFilter(params: StoreAndDayScope, day: SQL): SQL {
  const bounds: SQL[] = [];
  if (params.from !== null) bounds.push(sql`${day} >= ${params.from}::date`);
  if (params.to !== null) bounds.push(sql`${day} <= ${params.to}::date`);
  return bounds.length === 0 ? sql`true` : sql.join(bounds, sql` and `);
}

/** The purchases' class column, for the `purchases p` of the queries here. */
export const purchaseClass = statusClassSql(sql`p.status`);

/**
 * The having-clause of an invoice grouping of purchases `p`: the run's date and status
 * filters on the invoice as a whole. `statusClass` is the purchases' class (computed,
 * or a column a query computed it into).
 */
export function invoiceHaving(params: ReconcileParams, statusClass: SQL = purchaseClass): SQL {
  const status = params.status === null ? sql`true` : sql`bool_or(${statusClass} = ${params.status})`;
  return sql`${dayFilter(params, jakartaDay(sql`min(p.ordered_at)`))} and ${status}`;
}

/** Keys in (after, through] over two key columns. */
export function keyRange(store: SQL, key: SQL, range: { after: RangeKey | null; through: RangeKey }): SQL {
  const upper = sql`(${store}, ${key}) <= (${range.through.store_id}::int, ${range.through.invoice}::text)`;
  if (range.after === null) return upper;
  return sql`(${store}, ${key}) > (${range.after.store_id}::int, ${range.after.invoice}::text) and ${upper}`;
}

/** The orphan test for the settlements `s` of a query. */
export const isOrphan = sql`not exists (select 1 from purchases p where p.store_id = s.store_id and p.invoice = s.order_sn)`;

/** The settlement filters of the orphans' scope. */
export function orphanFilter(params: StoreAndDayScope): SQL {
  return sql`${storeFilter(params, sql`s.store_id`)} and ${dayFilter(params, sql`s.ordered_on`)} and ${isOrphan}`;
}
