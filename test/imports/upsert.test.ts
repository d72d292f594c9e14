/**
 * The set-based writes of purchases and settlements, on real Postgres and PGlite:
 * counts (inserted / updated / unchanged), source-rank ordering independent of the
 * order chunks run in, line replacement, store matching, concurrency.
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DatabaseHandle, openDatabase, queryRows } from "../../lib/db/client.js";
import { migrateDatabase } from "../../lib/db/migrate.js";
import { stores } from "../../lib/db/schema.js";
import type { PurchaseOrder, Settlement, SourceRank } from "../../lib/imports/model.js";
import { upsertPurchases } from "../../lib/imports/purchases.js";
import { upsertSettlements } from "../../lib/imports/settlements.js";
import { availablePostgres, createTestDatabase, type TestDatabase } from "../support/databases.js";

function order(code: string, rank: Partial<SourceRank> = {}, overrides: Partial<PurchaseOrder> = {}): PurchaseOrder {
  return {
    orderCode: code,
    transactionCode: `T${code}`,
    storeName: "MR eStore Shopee",
    channel: "Shopee",
    invoice: `250303${code.padStart(8, "X")}`,
    orderedAt: new Date("2025-03-03T03:04:05Z"),
    status: "Pesanan selesai",
    otherFee: 0,
    partnerFee: 2000,
    orderTotal: 52000,
    createdBy: "ops",
    warehouse: "Jakarta",
    courier: "JNE",
    cashless: true,
    waybill: null,
    shippedAt: null,
    province: "DKI Jakarta",
    city: "Jakarta Barat",
    lines: [
      {
        lineNo: 1,
        sku: "SKU-1",
        productName: 'Kabel "USB", 1m',
        unitCost: 25000,
        qty: 2,
        lineCost: 50000,
        unitPrice: 40000,
        linePrice: 80000,
        lineMargin: 30000,
      },
    ],
    rank: { job: 1, file: 0, line: 2, ...rank },
    ...overrides,
  };
}

function settlement(orderSn: string, overrides: Partial<Settlement> = {}): Settlement {
  return {
    orderSn,
    orderedOn: "2025-05-01",
    payoutDate: "2025-05-10",
    grossProductPrice: 80000,
    productDiscount: 0,
    buyerRefund: 0,
    sellerVoucher: 0,
    amsCommission: 0,
    adminFee: -6400,
    serviceFee: -4000,
    programFee: 0,
    campaignFee: 0,
    buyerShippingFee: 10000,
    shopeeShippingSubsidy: 0,
    shippingForwarded: -10000,
    sellerShippingPromo: 0,
    netPayout: 69600,
    shippingService: "Reguler",
    courierName: "SPX",
    ...overrides,
  };
}

interface Target {
  name: string;
  open(): Promise<{ handle: DatabaseHandle; dispose(): Promise<void> }>;
}

const postgres = availablePostgres();
const targets: Target[] = [
  {
    name: "PGlite",
    open: async () => {
      const handle = await openDatabase({ driver: "pglite", dataDir: null });
      await migrateDatabase(handle);
      return { handle, dispose: () => handle.close() };
    },
  },
];
if (postgres) {
  targets.push({
    name: "PostgreSQL",
    open: async () => {
      const database: TestDatabase = await createTestDatabase();
      const handle = await openDatabase({ driver: "pg", url: database.url });
      return {
        handle,
        dispose: async () => {
          await handle.close();
          await database.drop();
        },
      };
    },
  });
}

describe.each(targets)("purchase and settlement upserts ($name)", (target) => {
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;
  const job = randomUUID();

  beforeAll(async () => {
    ({ handle, dispose } = await target.open());
  });
  afterAll(() => dispose());

  const write = (orders: PurchaseOrder[]) => handle.db.transaction((tx) => upsertPurchases(tx, orders, job));
  const stored = async (code: string) => {
    const [row] = await queryRows<{ status: string; rank_job: string; store: string }>(
      handle.db,
      sql`select p.status, p.rank_job::text, s.name as store from purchases p join stores s on s.id = p.store_id
          where order_code = ${code}`,
    );
    const lines = await queryRows<{ line_no: number; sku: string }>(
      handle.db,
      sql`select line_no, sku from purchase_lines where order_code = ${code} order by line_no`,
    );
    return { ...row, lines };
  };

  it("inserts, then counts an identical re-import as unchanged", async () => {
    expect(await write([order("1001"), order("1002")])).toEqual({ inserted: 2, updated: 0, unchanged: 0 });
    expect(await write([order("1001", { job: 2 }), order("1002", { job: 2 })])).toEqual({
      inserted: 0,
      updated: 0,
      unchanged: 2,
    });
    expect((await stored("1001")).rank_job).toBe("2");
    expect((await stored("1001")).lines).toEqual([{ line_no: 1, sku: "SKU-1" }]);
  });

  it("replaces an order and its lines from a higher rank, never from a lower one", async () => {
    const changed = order("1001", { job: 3 }, { status: "Pesanan dibatalkan", lines: [] });
    changed.lines = [
      { ...order("x").lines[0], lineNo: 1, sku: "SKU-9" } as PurchaseOrder["lines"][number],
      { ...order("x").lines[0], lineNo: 2, sku: "SKU-8" } as PurchaseOrder["lines"][number],
    ];
    expect(await write([changed])).toEqual({ inserted: 0, updated: 1, unchanged: 0 });
    expect(await stored("1001")).toMatchObject({
      status: "Pesanan dibatalkan",
      lines: [
        { line_no: 1, sku: "SKU-9" },
        { line_no: 2, sku: "SKU-8" },
      ],
    });
    // An older version arriving late changes nothing.
    expect(await write([order("1001", { job: 2, line: 99 }, { status: "Dikirim" })])).toEqual({
      inserted: 0,
      updated: 0,
      unchanged: 1,
    });
    expect((await stored("1001")).status).toBe("Pesanan dibatalkan");
  });

  it("ends with the same data whatever order the chunks run in", async () => {
    const early = [order("2001", { job: 5, file: 0 }, { status: "Dikemas" }), order("2002", { job: 5, file: 0 })];
    const late = [order("2001", { job: 5, file: 1 }, { status: "Pesanan selesai" }), order("2003", { job: 5, file: 1 })];
    await write(late);
    await write(early);
    expect((await stored("2001")).status).toBe("Pesanan selesai");
    const [row] = await queryRows<{ n: number }>(
      handle.db,
      sql`select count(*)::int as n from purchases where order_code in ('2001', '2002', '2003')`,
    );
    expect(row?.n).toBe(3);
  });

  it("keeps the later block of an order repeated within one chunk", async () => {
    const counts = await write([
      order("3001", { job: 6, line: 2 }, { status: "Dikemas" }),
      order("3001", { job: 6, line: 40 }, { status: "Dikirim" }),
    ]);
    expect(counts).toEqual({ inserted: 1, updated: 0, unchanged: 0 });
    expect((await stored("3001")).status).toBe("Dikirim");
  });

  it("matches stores case- and space-insensitively, creating each once", async () => {
    await write([
      order("4001", { job: 7 }, { storeName: "  mr estore SHOPEE " }),
      order("4002", { job: 7 }, { storeName: "Apex Tokopedia", channel: "Tokopedia" }),
    ]);
    const rows = await handle.db.select().from(stores);
    expect(rows.map((s) => s.name).sort()).toEqual(["Apex Tokopedia", "MR eStore Shopee"]);
    expect((await stored("4001")).store).toBe("MR eStore Shopee");
  });

  it("upserts settlements by store and order number", async () => {
    const [store] = await handle.db.select().from(stores);
    const storeId = store?.id as number;
    const upsert = (rows: Settlement[]) => handle.db.transaction((tx) => upsertSettlements(tx, storeId, rows, job));
    expect(await upsert([settlement("250501AAAAAAAA"), settlement("250501BBBBBBBB")])).toEqual({
      inserted: 2,
      updated: 0,
      unchanged: 0,
    });
    expect(await upsert([settlement("250501AAAAAAAA"), settlement("250501BBBBBBBB", { netPayout: 1 })])).toEqual({
      inserted: 0,
      updated: 1,
      unchanged: 1,
    });
    const [row] = await queryRows<{ net_payout: string }>(
      handle.db,
      sql`select net_payout::text from settlements where order_sn = '250501BBBBBBBB'`,
    );
    expect(row?.net_payout).toBe("1");
  });

  it.skipIf(target.name !== "PostgreSQL")("lets two concurrent imports of the same new orders finish without duplicates", async () => {
    const a = Array.from({ length: 50 }, (_, i) => order(`9${String(i).padStart(3, "0")}`, { job: 10 }));
    const b = Array.from({ length: 50 }, (_, i) => order(`9${String(i).padStart(3, "0")}`, { job: 11 }));
    await Promise.all([write(a), write(b)]);
    const [row] = await queryRows<{ orders: number; lines: number; rank: string }>(
      handle.db,
      sql`select count(distinct p.order_code)::int as orders, count(l.*)::int as lines, max(p.rank_job)::text as rank
          from purchases p join purchase_lines l using (order_code) where p.order_code like '9%' and length(p.order_code) = 4`,
    );
    expect(row).toEqual({ orders: 50, lines: 50, rank: "11" });
  });
});
