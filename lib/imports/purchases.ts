/**
 * Set-based writes of purchase orders (domain.md §1, §4): a handful of statements
 * per chunk, whatever its size, never one per row.
 *
 * Which version wins does not depend on the order chunks run in: every order
 * carries its source rank (import job, file position, line) and a stored order is
 * replaced only by a higher rank. Re-importing an order replaces its lines; an
 * order whose content is unchanged counts as unchanged. Keys are sorted before
 * every write so concurrent imports lock rows in the same order and never deadlock.
 */
import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import { compareRank, type PurchaseOrder, type SourceRank, type UpsertCounts } from "./model.js";

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

interface Existing {
  order_code: string;
  content_hash: string;
  rank_job: number;
  rank_file: number;
  rank_line: number;
}

const rankOf = (row: Existing): SourceRank => ({
  job: Number(row.rank_job),
  file: row.rank_file,
  line: row.rank_line,
});

/**
 * Writes the orders of one chunk. `orders` may repeat an order code (the same order
 * twice in a file): the highest rank wins before anything is written.
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
  const codes = sorted.map((order) => order.orderCode);
  const existing = new Map(
    (
      await queryRows<Existing & Record<string, unknown>>(
        db,
        sql`select order_code, content_hash, rank_job, rank_file, rank_line from purchases
            where order_code = any(${p(codes)}::text[]) order by order_code for update`,
      )
    ).map((row) => [row.order_code, row]),
  );

  const hashes = new Map(sorted.map((order) => [order.orderCode, purchaseContentHash(order)]));
  const write: PurchaseOrder[] = [];
  const rankOnly: PurchaseOrder[] = [];
  let inserted = 0;
  let updated = 0;
  let unchanged = 0;
  for (const order of sorted) {
    const stored = existing.get(order.orderCode);
    if (!stored) {
      inserted += 1;
      write.push(order);
    } else if (compareRank(order.rank, rankOf(stored)) <= 0) {
      unchanged += 1; // a newer version is already stored
    } else if (stored.content_hash === hashes.get(order.orderCode)) {
      unchanged += 1;
      rankOnly.push(order); // same content from a later source: it is now the latest
    } else {
      updated += 1;
      write.push(order);
    }
  }

  if (write.length > 0) await writeOrders(db, write, storeIds, hashes, jobId);
  if (rankOnly.length > 0) {
    await queryRows(
      db,
      sql`update purchases set rank_job = v.rank_job, rank_file = v.rank_file, rank_line = v.rank_line, last_job_id = ${jobId}::uuid
          from unnest(${p(rankOnly.map((o) => o.orderCode))}::text[], ${p(rankOnly.map((o) => o.rank.job))}::bigint[],
                      ${p(rankOnly.map((o) => o.rank.file))}::int[], ${p(rankOnly.map((o) => o.rank.line))}::int[])
               as v(order_code, rank_job, rank_file, rank_line)
          where purchases.order_code = v.order_code
            and (purchases.rank_job, purchases.rank_file, purchases.rank_line) < (v.rank_job, v.rank_file, v.rank_line)`,
    );
  }
  return { inserted, updated, unchanged };
}

async function writeOrders(
  db: Database,
  orders: PurchaseOrder[],
  storeIds: Map<string, number>,
  hashes: Map<string, string>,
  jobId: string,
): Promise<void> {
  const column = <T>(pick: (order: PurchaseOrder) => T) => p(orders.map(pick));
  const storeId = (order: PurchaseOrder) => {
    const id = storeIds.get(order.storeName.trim().toLowerCase());
    if (id === undefined) throw new Error(`store "${order.storeName}" was not created`);
    return id;
  };
  // A concurrent import may have inserted the same new order meanwhile: the rank
  // guard in the conflict clause keeps the higher version either way.
  const written = await queryRows<{ order_code: string }>(
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
        returning order_code`,
  );
  // Lines are replaced as a whole (a re-export may drop or reorder them), and only
  // for the orders this write won.
  const won = new Set(written.map((row) => row.order_code));
  const codes = orders.filter((order) => won.has(order.orderCode)).map((order) => order.orderCode);
  if (codes.length === 0) return;
  await queryRows(db, sql`delete from purchase_lines where order_code = any(${p(codes)}::text[])`);
  const lines = orders
    .filter((order) => won.has(order.orderCode))
    .flatMap((order) => order.lines.map((line) => ({ orderCode: order.orderCode, ...line })));
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
