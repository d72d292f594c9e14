/**
 * Set-based writes of settlement rows (domain.md §2, §4): key (store, No. Pesanan);
 * a re-import replaces a row whose content changed and counts the rest unchanged.
 */
import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import type { Settlement, UpsertCounts } from "./model.js";
import { SETTLEMENT_MONEY } from "./settlement-rows.js";

const p = (values: unknown[]) => sql.param(values);

export function settlementContentHash(row: Settlement): string {
  return createHash("sha256").update(JSON.stringify(row)).digest("base64url");
}

// Field names in settlement-rows.ts are the table's column names.
const MONEY_COLUMNS = SETTLEMENT_MONEY;

/**
 * Writes one chunk of one store's settlement rows; a repeated order number keeps its last row.
 *
 * One statement over the sorted keys inserts the absent rows and locks the present
 * ones in key order, waiting on any a concurrent import has inserted but not
 * committed; its condition sees the latest committed content. So the rows it returns
 * are exactly those this write inserted or changed, however many imports hold them.
 */
export async function upsertSettlements(
  db: Database,
  storeId: number,
  rows: Settlement[],
  jobId: string,
): Promise<UpsertCounts> {
  const latest = new Map<string, Settlement>();
  for (const row of rows) latest.set(row.orderSn, row);
  const sorted = [...latest.values()].sort((a, b) => (a.orderSn < b.orderSn ? -1 : a.orderSn > b.orderSn ? 1 : 0));
  if (sorted.length === 0) return { inserted: 0, updated: 0, unchanged: 0 };
  const money = MONEY_COLUMNS.map(([, key]) => sql`${p(sorted.map((row) => row[key]))}::bigint[]`);
  const moneyNames = sql.raw(MONEY_COLUMNS.map(([columnName]) => columnName).join(", "));
  const moneyUpdates = sql.raw(MONEY_COLUMNS.map(([columnName]) => `${columnName} = excluded.${columnName}`).join(", "));
  // `xmax = 0` holds only for a row version this statement inserted: a replaced
  // version keeps in xmax the row lock the conflict clause took. Postgres documents
  // no flag for this; the concurrency tests in test/imports/upsert.test.ts pin it.
  const written = await queryRows<{ inserted: boolean }>(
    db,
    sql`insert into settlements (store_id, order_sn, ordered_on, payout_date, ${moneyNames},
          shipping_service, courier_name, content_hash, first_job_id, last_job_id, updated_at)
        select ${storeId}, v.*, ${jobId}::uuid, ${jobId}::uuid, now() from unnest(
          ${p(sorted.map((row) => row.orderSn))}::text[], ${p(sorted.map((row) => row.orderedOn))}::date[],
          ${p(sorted.map((row) => row.payoutDate))}::date[], ${sql.join(money, sql`, `)},
          ${p(sorted.map((row) => row.shippingService))}::text[], ${p(sorted.map((row) => row.courierName))}::text[],
          ${p(sorted.map(settlementContentHash))}::text[]
        ) as v
        on conflict (store_id, order_sn) do update set
          ordered_on = excluded.ordered_on, payout_date = excluded.payout_date, ${moneyUpdates},
          shipping_service = excluded.shipping_service, courier_name = excluded.courier_name,
          content_hash = excluded.content_hash, last_job_id = excluded.last_job_id, updated_at = now()
        where settlements.content_hash <> excluded.content_hash
        returning xmax = 0 as inserted`,
  );
  const inserted = written.filter((row) => row.inserted).length;
  return { inserted, updated: written.length - inserted, unchanged: sorted.length - written.length };
}
