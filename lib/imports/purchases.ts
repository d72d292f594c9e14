/**
 * Set-based writes of purchase orders (domain.md §1, §4): a handful of statements
 * per chunk, whatever its size, never one per row.
 *
 * Which version wins does not depend on the order chunks run in: every order
 * carries its source rank (import job, file position, line) and a stored order is
 * replaced only by a higher rank. Re-importing an order replaces its lines; an
 * order whose content is unchanged counts as unchanged. Keys are sorted before
 * every write so concurrent imports lock rows in the same order and never deadlock,
 * and the counts come from what the write did, so they stay exact when concurrent
 * imports hold the same orders.
 */
import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import { compareRank, type PurchaseOrder, type UpsertCounts } from "./model.js";

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

/** One order the write inserted or replaced; `inserted` is false for a replacement. */
interface Won {
  order_code: string;
  inserted: boolean;
}

/**
 * Writes the orders of one chunk. `orders` may repeat an order code (the same order
 * twice in a file): the highest rank wins before anything is written.
 *
 * The counts say what this write did, not what it expected to find: two imports
 * holding the same new order both find it absent, yet only one inserts it.
 */
export async function upsertPurchases(db: Database, orders: PurchaseOrder[], jobId: string): Promise<UpsertCounts> {
  const latest = new Map<string, PurchaseOrder>();
  for (const order of orders) {
    const current = latest.get(order.orderCode);
    if (!current || compareRank(order.rank, current.rank) > 0) latest.set(order.orderCode, order);
  }
  const sorted = [...latest.values()].sort((a, b) => (a.orderCode < b.orderCode ? -1 : a.orderCode > b.orderCode ? 1 : 0));
  if (sorted.length === 0) return { inserted: 0, updated: 0, unchanged: 0 };

  const storeIds = await ensureStores(
    db,
    sorted.map((order) => ({ name: order.storeName, channel: order.channel })),
  );
  const hashes = new Map(sorted.map((order) => [order.orderCode, purchaseContentHash(order)]));
  const won = await writeOrders(db, sorted, storeIds, hashes, jobId);
  const wonCodes = new Set(won.map((row) => row.order_code));
  await replaceLines(db, sorted.filter((order) => wonCodes.has(order.orderCode)));

  // writeOrders locked every order it did not win. Each is stored with a rank at least
  // as high (left alone) or with the same content (the higher rank is recorded; the
  // order still counts unchanged).
  const kept = sorted.filter((order) => !wonCodes.has(order.orderCode));
  if (kept.length > 0) {
    await queryRows(
      db,
      sql`update purchases set rank_job = v.rank_job, rank_file = v.rank_file, rank_line = v.rank_line, last_job_id = ${jobId}::uuid
          from unnest(${p(kept.map((o) => o.orderCode))}::text[], ${p(kept.map((o) => o.rank.job))}::bigint[],
                      ${p(kept.map((o) => o.rank.file))}::int[], ${p(kept.map((o) => o.rank.line))}::int[])
               as v(order_code, rank_job, rank_file, rank_line)
          where purchases.order_code = v.order_code
            and (purchases.rank_job, purchases.rank_file, purchases.rank_line) < (v.rank_job, v.rank_file, v.rank_line)`,
    );
  }
  const inserted = won.filter((row) => row.inserted).length;
  return { inserted, updated: won.length - inserted, unchanged: kept.length };
}

/**
 * Inserts the absent orders and replaces those a higher rank changed, in one statement
 * over the sorted keys: it locks every present order (the conflict clause locks even
 * the rows its condition leaves alone) and waits on every order a concurrent import
 * has inserted but not committed, all in key order, so imports never deadlock. The
 * condition is checked against the latest committed version, including one committed
 * after this statement began, so the rows returned are exactly those this write won.
 */
async function writeOrders(
  db: Database,
  orders: PurchaseOrder[],
  storeIds: Map<string, number>,
  hashes: Map<string, string>,
  jobId: string,
): Promise<Won[]> {
  const column = <T>(pick: (order: PurchaseOrder) => T) => p(orders.map(pick));
  const storeId = (order: PurchaseOrder) => {
    const id = storeIds.get(order.storeName.trim().toLowerCase());
    if (id === undefined) throw new Error(`store "${order.storeName}" was not created`);
    return id;
  };
  // `xmax = 0` holds only for a row version this statement inserted: a replaced
  // version keeps in xmax the row lock the conflict clause took. Postgres documents
  // no flag for this; the concurrency tests in test/imports/upsert.test.ts pin it.
  return queryRows<Won & Record<string, unknown>>(
    db,
    sql`insert into purchases (order_code, transaction_code, store_id, channel, invoice, ordered_at, status,
          other_fee, partner_fee, order_total, created_by, warehouse, courier, cashless, waybill, shipped_at,
          province, city, content_hash, rank_job, rank_file, rank_line, first_job_id, last_job_id, updated_at)
        select v.*, ${jobId}::uuid, ${jobId}::uuid, now() from unnest(
          ${column((o) => o.orderCode)}::text[], ${column((o) => o.transactionCode)}::text[],
          ${column(storeId)}::int[], ${column((o) => o.channel)}::text[], ${column((o) => o.invoice)}::text[],
          ${column((o) => o.orderedAt.toISOString())}::timestamptz[], ${column((o) => o.status)}::text[],
          ${column((o) => o.otherFee)}::bigint[], ${column((o) => o.partnerFee)}::bigint[],
          ${column((o) => o.orderTotal)}::bigint[], ${column((o) => o.createdBy)}::text[],
          ${column((o) => o.warehouse)}::text[], ${column((o) => o.courier)}::text[],
          ${column((o) => o.cashless)}::boolean[], ${column((o) => o.waybill)}::text[],
          ${column((o) => o.shippedAt?.toISOString() ?? null)}::timestamptz[], ${column((o) => o.province)}::text[],
          ${column((o) => o.city)}::text[], ${column((o) => hashes.get(o.orderCode) as string)}::text[],
          ${column((o) => o.rank.job)}::bigint[], ${column((o) => o.rank.file)}::int[], ${column((o) => o.rank.line)}::int[]
        ) as v
        on conflict (order_code) do update set
          transaction_code = excluded.transaction_code, store_id = excluded.store_id, channel = excluded.channel,
          invoice = excluded.invoice, ordered_at = excluded.ordered_at, status = excluded.status,
          other_fee = excluded.other_fee, partner_fee = excluded.partner_fee, order_total = excluded.order_total,
          created_by = excluded.created_by, warehouse = excluded.warehouse, courier = excluded.courier,
          cashless = excluded.cashless, waybill = excluded.waybill, shipped_at = excluded.shipped_at,
          province = excluded.province, city = excluded.city, content_hash = excluded.content_hash,
          rank_job = excluded.rank_job, rank_file = excluded.rank_file, rank_line = excluded.rank_line,
          last_job_id = excluded.last_job_id, updated_at = now()
        where (purchases.rank_job, purchases.rank_file, purchases.rank_line)
            < (excluded.rank_job, excluded.rank_file, excluded.rank_line)
          and purchases.content_hash <> excluded.content_hash
        returning order_code, xmax = 0 as inserted`,
  );
}

/** Lines are replaced as a whole: a re-export may drop or reorder them. */
async function replaceLines(db: Database, orders: PurchaseOrder[]): Promise<void> {
  if (orders.length === 0) return;
  await queryRows(
    db,
    sql`delete from purchase_lines where order_code = any(${p(orders.map((order) => order.orderCode))}::text[])`,
  );
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
