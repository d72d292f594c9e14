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

/** Writes one chunk of one store's settlement rows; a repeated order number keeps its last row. */
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
  const keys = sorted.map((row) => row.orderSn);
  const existing = new Map(
    (
      await queryRows<{ order_sn: string; content_hash: string }>(
        db,
        sql`select order_sn, content_hash from settlements
            where store_id = ${storeId} and order_sn = any(${p(keys)}::text[]) order by order_sn for update`,
      )
    ).map((row) => [row.order_sn, row.content_hash]),
  );
  const hashes = sorted.map(settlementContentHash);
  const changed = sorted.filter((row, i) => existing.get(row.orderSn) !== hashes[i]);
  const inserted = changed.filter((row) => !existing.has(row.orderSn)).length;
  const updated = changed.length - inserted;
  if (changed.length > 0) {
    const changedHashes = changed.map(settlementContentHash);
    const money = MONEY_COLUMNS.map(([, key]) => sql`${p(changed.map((row) => row[key]))}::bigint[]`);
    const moneyNames = sql.raw(MONEY_COLUMNS.map(([columnName]) => columnName).join(", "));
    const moneyUpdates = sql.raw(MONEY_COLUMNS.map(([columnName]) => `${columnName} = excluded.${columnName}`).join(", "));
    await queryRows(
      db,
      sql`insert into settlements (store_id, order_sn, ordered_on, payout_date, ${moneyNames},
            shipping_service, courier_name, content_hash, first_job_id, last_job_id, updated_at)
          select ${storeId}, v.*, ${jobId}::uuid, ${jobId}::uuid, now() from unnest(
            ${p(changed.map((row) => row.orderSn))}::text[], ${p(changed.map((row) => row.orderedOn))}::date[],
            ${p(changed.map((row) => row.payoutDate))}::date[], ${sql.join(money, sql`, `)},
            ${p(changed.map((row) => row.shippingService))}::text[], ${p(changed.map((row) => row.courierName))}::text[],
            ${p(changedHashes)}::text[]
          ) as v
          on conflict (store_id, order_sn) do update set
            ordered_on = excluded.ordered_on, payout_date = excluded.payout_date, ${moneyUpdates},
            shipping_service = excluded.shipping_service, courier_name = excluded.courier_name,
            content_hash = excluded.content_hash, last_job_id = excluded.last_job_id, updated_at = now()`,
    );
  }
  return { inserted, updated, unchanged: sorted.length - changed.length };
}
