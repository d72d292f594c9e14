/**
 * Set-based writes of purchase orders (`purchases`, key order_code; `purchase_lines`,
 * key (order_code, line_no)): a handful of statements per chunk, whatever its size,
 * never one per row (the shared steps are in ranked-write.ts).
 *
 * Which version wins does not depend on the order chunks run in: every order
 * carries its source rank (import job, file position, line) and a stored order is
 * replaced only by a higher rank. Re-importing an order replaces its lines.
 *
 * Counters (README, "Import counters"): per import, every distinct order counts
 * exactly once, by its final version in the import (its highest rank) against what
 * the database held before the import: `orders_inserted` (it did not exist),
 * `orders_updated` (other content), `orders_unchanged` (the same content, or a later
 * import already holds a newer version). Blocks superseded by a higher-ranked block
 * of the same import (they carry the `repeated_order` warning) are not counted again,
 * whatever the chunking and whatever order chunks commit in: a chunk takes back the
 * count an earlier chunk of its import made for an order it supersedes, so one
 * chunk's figures may be negative. Keys are sorted before every write so concurrent
 * imports lock rows in the same order and never deadlock.
 */
import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import type { PurchaseOrder, UpsertCounts, WriteReport } from "./model.js";
import { type RankedTable, writeRanked } from "./ranked-write.js";

const p = (values: unknown[]) => sql.param(values);

/** Resolves store names to ids, creating the stores seen for the first time. */
export async function ensureStores(
  db: Database,
  seen: Array<{ name: string; channel: string }>,
): Promise<Map<string, number>> {
  const byKey = new Map<string, { name: string; channel: string }>();
  for (const store of seen) {
    const key = store.name.trim().toLowerCase();
    if (!byKey.has(key)) byKey.set(key, { name: store.name.trim(), channel: store.channel });
  }
  const keys = [...byKey.keys()].sort();
  if (keys.length === 0) return new Map();
  const names = keys.map((key) => (byKey.get(key) as { name: string }).name);
  const channels = keys.map((key) => (byKey.get(key) as { channel: string }).channel);
  await queryRows(
    db,
    sql`insert into stores (name, channel)
        select * from unnest(${p(names)}::text[], ${p(channels)}::text[])
        on conflict do nothing`,
  );
  const rows = await queryRows<{ id: number; key: string }>(
    db,
    sql`select id, lower(name) as key from stores where lower(name) = any(${p(keys)}::text[])`,
  );
  return new Map(rows.map((row) => [row.key, row.id]));
}

/** A stable fingerprint of everything an order says (not where it came from). */
export function purchaseContentHash(order: PurchaseOrder): string {
  const { rank: _rank, ...content } = order;
  const normal = { ...content, storeName: content.storeName.trim().toLowerCase() };
  return createHash("sha256").update(JSON.stringify(normal)).digest("base64url");
}

/**
 * Writes the orders of one chunk of import `jobId`. `orders` may repeat an order code
 * (the same order twice in a chunk): the highest rank wins before anything is written.
 */
export async function upsertPurchases(
  db: Database,
  orders: PurchaseOrder[],
  jobId: string,
  /** Filled, when given, with what the write took back and each row's outcome (model.ts). */
  report?: WriteReport,
): Promise<UpsertCounts> {
  if (orders.length === 0) return { inserted: 0, updated: 0, unchanged: 0 };
  // Every block's store, a superseded block's too: which stores exist must not depend
  // on whether the blocks of an order fell in one chunk or in several.
  const storeIds = await ensureStores(
    db,
    orders.map((order) => ({ name: order.storeName, channel: order.channel })),
  );
  const { counts, written, replaced } = await writeRanked(db, purchasesTable(storeIds), orders, jobId, report);
  await replaceLines(db, written, replaced);
  return counts;
}

function purchasesTable(storeIds: Map<string, number>): RankedTable<PurchaseOrder> {
  const storeId = (order: PurchaseOrder) => {
    const id = storeIds.get(order.storeName.trim().toLowerCase());
    if (id === undefined) throw new Error(`store "${order.storeName}" was not created`);
    return id;
  };
  return {
    table: "purchases",
    fixed: [],
    key: { name: "order_code", value: (o) => o.orderCode },
    content: [
      { name: "transaction_code", type: "text", value: (o) => o.transactionCode },
      { name: "store_id", type: "int", value: storeId },
      { name: "channel", type: "text", value: (o) => o.channel },
      { name: "invoice", type: "text", value: (o) => o.invoice },
      { name: "ordered_at", type: "timestamptz", value: (o) => o.orderedAt.toISOString() },
      { name: "status", type: "text", value: (o) => o.status },
      { name: "other_fee", type: "bigint", value: (o) => o.otherFee },
      { name: "partner_fee", type: "bigint", value: (o) => o.partnerFee },
      { name: "order_total", type: "bigint", value: (o) => o.orderTotal },
      { name: "created_by", type: "text", value: (o) => o.createdBy },
      { name: "warehouse", type: "text", value: (o) => o.warehouse },
      { name: "courier", type: "text", value: (o) => o.courier },
      { name: "cashless", type: "boolean", value: (o) => o.cashless },
      { name: "waybill", type: "text", value: (o) => o.waybill },
      { name: "shipped_at", type: "timestamptz", value: (o) => o.shippedAt?.toISOString() ?? null },
      { name: "province", type: "text", value: (o) => o.province },
      { name: "city", type: "text", value: (o) => o.city },
    ],
    rank: (o) => o.rank,
    contentHash: purchaseContentHash,
  };
}

/**
 * Writes the lines of `orders`, replaced as a whole (a re-export may drop or reorder
 * them): the old lines go first for the orders in `replaced`; an inserted order has none.
 */
async function replaceLines(db: Database, orders: PurchaseOrder[], replaced: Set<string>): Promise<void> {
  if (orders.length === 0) return;
  if (replaced.size > 0) {
    await queryRows(db, sql`delete from purchase_lines where order_code = any(${p([...replaced])}::text[])`);
  }
  const lines = orders.flatMap((order) => order.lines.map((line) => ({ orderCode: order.orderCode, ...line })));
  const lineColumn = <T>(pick: (line: (typeof lines)[number]) => T) => p(lines.map(pick));
  await queryRows(
    db,
    sql`insert into purchase_lines (order_code, line_no, sku, product_name, unit_cost, qty, line_cost,
          unit_price, line_price, line_margin)
        select * from unnest(
          ${lineColumn((l) => l.orderCode)}::text[], ${lineColumn((l) => l.lineNo)}::int[], ${lineColumn((l) => l.sku)}::text[],
          ${lineColumn((l) => l.productName)}::text[], ${lineColumn((l) => l.unitCost)}::bigint[],
          ${lineColumn((l) => l.qty)}::int[], ${lineColumn((l) => l.lineCost)}::bigint[],
          ${lineColumn((l) => l.unitPrice)}::bigint[], ${lineColumn((l) => l.linePrice)}::bigint[],
          ${lineColumn((l) => l.lineMargin)}::bigint[]
        )`,
  );
}
