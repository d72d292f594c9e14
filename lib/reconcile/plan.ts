/**
 * Planning a reconcile run: its scope cut into keyset ranges of about `chunkInvoices`
 * invoices, in (store, invoice) order, then ranges of orphan settlements. Each range's
 * last key comes from one SQL statement that numbers the scope's keys in index order
 * and returns only every Nth (and the last): no OFFSET, and only the boundaries reach
 * Node, never the scope. The last boundary is the scope's upper bound, fixed here.
 */
import { type SQL, sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import type { PlannedChunk } from "../jobs/types.js";
import type { RangeKey, ReconcileParams, ReconcilePayload } from "./params.js";
import { invoiceHaving, orphanFilter, storeFilter } from "./scope.js";

type Boundary = {
  store_id: number;
  key: string;
  /** The key's 1-based position in the scope. */
  n: string;
};

export async function planReconcile(
  db: Database,
  params: ReconcileParams,
  chunkInvoices: number,
): Promise<Array<PlannedChunk<ReconcilePayload>>> {
  const invoices = await queryRows<Boundary>(
    db,
    everyNth(
      sql`select p.store_id, p.invoice as key from purchases p
          where ${storeFilter(params, sql`p.store_id`)}
          group by p.store_id, p.invoice
          having ${invoiceHaving(params)}`,
      chunkInvoices,
    ),
  );
  // Orphans have no purchase, so no status: a run by status has none.
  const orphans =
    params.status === null
      ? await queryRows<Boundary>(
          db,
          everyNth(sql`select s.store_id, s.order_sn as key from settlements s where ${orphanFilter(params)}`, chunkInvoices),
        )
      : [];
  return [...ranges("invoices", invoices), ...ranges("orphans", orphans)];
}

/** The keys of `scope` (store_id, key) numbered in key order; every nth and the last. */
function everyNth(scope: SQL, n: number): SQL {
  return sql`select store_id, key, position::text as n from (
               select store_id, key, row_number() over (order by store_id, key) as position, count(*) over () as total
               from (${scope}) scope
             ) numbered
             where position % ${n} = 0 or position = total
             order by position`;
}

function ranges(range: ReconcilePayload["range"], boundaries: Boundary[]): Array<PlannedChunk<ReconcilePayload>> {
  let after: RangeKey | null = null;
  let counted = 0;
  return boundaries.map((boundary) => {
    const through = { store_id: boundary.store_id, invoice: boundary.key };
    const n = Number(boundary.n);
    const chunk = { payload: { range, after, through }, rows: n - counted };
    after = through;
    counted = n;
    return chunk;
  });
}
