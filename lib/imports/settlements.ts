/**
 * Set-based writes of settlement rows (`settlements`): key (store, No. Pesanan).
 * The shared steps are in ranked-write.ts.
 *
 * Like an order, a settlement row carries its source rank (import job, file position,
 * line) and a stored row is replaced only by a higher rank, so an order number that
 * several files of one import hold ends with the same row (the last file's, its last
 * line) whatever order the chunks commit in.
 *
 * Counters (README, "Import counters"): per import, every distinct (store, order
 * number) counts exactly once, by its final version in the import against what the
 * database held before the import: `settlements_inserted`, `settlements_updated`
 * (other content), `settlements_unchanged` (the same content, or a later import
 * already holds a newer version); rows superseded within the import are not counted
 * again. A chunk's figures may be negative (it takes back an earlier chunk's count).
 */
import { createHash } from "node:crypto";
import type { Database } from "../db/client.js";
import type { Settlement, UpsertCounts, WriteReport } from "./model.js";
import { type Column, type RankedTable, writeRanked } from "./ranked-write.js";
import { SETTLEMENT_MONEY } from "./settlement-rows.js";

/** A stable fingerprint of everything a row says (not where it came from). */
export function settlementContentHash(row: Settlement): string {
  const { rank: _rank, ...content } = row;
  return createHash("sha256").update(JSON.stringify(content)).digest("base64url");
}

// Field names in settlement-rows.ts are the table's column names.
const MONEY_COLUMNS: Array<Column<Settlement>> = SETTLEMENT_MONEY.map(([name, key]) => ({
  name,
  type: "bigint",
  value: (row) => row[key],
}));

/**
 * Writes one chunk of one store's settlement rows for import `jobId`. `rows` may
 * repeat an order number: the highest rank (the later line) wins before anything is written.
 */
export async function upsertSettlements(
  db: Database,
  storeId: number,
  rows: Settlement[],
  jobId: string,
  /** Filled, when given, with what the write took back and each row's outcome (model.ts). */
  report?: WriteReport,
): Promise<UpsertCounts> {
  const table: RankedTable<Settlement> = {
    table: "settlements",
    fixed: [{ name: "store_id", type: "int", value: storeId }],
    key: { name: "order_sn", value: (row) => row.orderSn },
    content: [
      { name: "ordered_on", type: "date", value: (row) => row.orderedOn },
      { name: "payout_date", type: "date", value: (row) => row.payoutDate },
      ...MONEY_COLUMNS,
      { name: "shipping_service", type: "text", value: (row) => row.shippingService },
      { name: "courier_name", type: "text", value: (row) => row.courierName },
    ],
    rank: (row) => row.rank,
    contentHash: settlementContentHash,
  };
  return (await writeRanked(db, table, rows, jobId, report)).counts;
}
