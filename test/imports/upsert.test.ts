/**
 * The set-based writes of purchases and settlements, on real Postgres and PGlite:
 * counts (inserted / updated / unchanged), source-rank ordering independent of the
 * order chunks run in, line replacement, store matching, concurrency.
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, type DatabaseHandle, openDatabase, queryRows } from "../../lib/db/client.js";
import { migrateDatabase } from "../../lib/db/migrate.js";
import { stores } from "../../lib/db/schema.js";
import type { PurchaseOrder, Settlement, SourceRank, UpsertCounts } from "../../lib/imports/model.js";
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

/**
 * Runs `first` in a transaction left open until `second`, started after `first` has
 * written, is waiting on its locks; then commits `first` and lets `second` finish.
 * This is the interleaving where both writes began before either committed, which a
 * plain Promise.all reaches only by luck.
 */
async function overlapping<A, B>(
  handle: DatabaseHandle,
  first: (tx: Database) => Promise<A>,
  second: (tx: Database) => Promise<B>,
): Promise<[A, B]> {
  let wrote!: (pid: number) => void;
  const written = new Promise<number>((resolve) => {
    wrote = resolve;
  });
  let commit!: () => void;
  const mayCommit = new Promise<void>((resolve) => {
    commit = resolve;
  });
  const firstTx = handle.db.transaction(async (tx) => {
    const [session] = await queryRows<{ pid: number }>(tx, sql`select pg_backend_pid() as pid`);
    const result = await first(tx);
    wrote(session?.pid as number);
    await mayCommit;
    return result;
  });
  // A first transaction that fails before writing fails the test instead of hanging it.
  const firstPid = await Promise.race([written, firstTx.then(() => -1)]);
  const secondTx = handle.db.transaction(second);
  let secondEnded = false;
  const ended = () => {
    secondEnded = true;
  };
  void secondTx.then(ended, ended);
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const [row] = await queryRows<{ waiting: boolean }>(
        handle.db,
        sql`select exists (select 1 from pg_stat_activity where ${firstPid}::int = any(pg_blocking_pids(pid))) as waiting`,
      );
      if (row?.waiting) break;
      if (secondEnded) throw new Error("the second transaction finished without waiting on the first");
      if (Date.now() > deadline) throw new Error("the second transaction never waited on the first");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    commit();
  }
  return Promise.all([firstTx, secondTx]);
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

  const sum = (...all: UpsertCounts[]) =>
    all.reduce((total, counts) => ({
      inserted: total.inserted + counts.inserted,
      updated: total.updated + counts.updated,
      unchanged: total.unchanged + counts.unchanged,
    }));
  const codes = (prefix: string, from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => `${prefix}${String(from + i).padStart(3, "0")}`);

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
    const counts = await Promise.all([write(a), write(b)]);
    // Whichever wrote an order first inserted it; the other found the same content.
    expect(sum(...counts)).toEqual({ inserted: 50, updated: 0, unchanged: 50 });
    const [row] = await queryRows<{ orders: number; lines: number; rank: string }>(
      handle.db,
      sql`select count(distinct p.order_code)::int as orders, count(l.*)::int as lines, max(p.rank_job)::text as rank
          from purchases p join purchase_lines l using (order_code) where p.order_code like '9%' and length(p.order_code) = 4`,
    );
    expect(row).toEqual({ orders: 50, lines: 50, rank: "11" });
  });

  const storedAll = (prefix: string) =>
    queryRows<{ order_code: string; status: string; rank_job: string; skus: string }>(
      handle.db,
      sql`select p.order_code, p.status, p.rank_job::text,
                 coalesce(string_agg(l.sku, ',' order by l.line_no), '') as skus
          from purchases p left join purchase_lines l using (order_code)
          where p.order_code like ${`${prefix}%`} group by p.order_code order by p.order_code`,
    );

  it.skipIf(target.name !== "PostgreSQL")(
    "counts an order both writers saw as new inserted once, and the same content from the later writer unchanged",
    async () => {
      // Overlapping chunks: A000..A009 in the first write, A005..A014 in the second.
      const first = codes("A", 0, 10).map((code) => order(code, { job: 20 }));
      const second = codes("A", 5, 15).map((code) => order(code, { job: 21 }));
      const [a, b] = await overlapping(
        handle,
        (tx) => upsertPurchases(tx, first, job),
        (tx) => upsertPurchases(tx, second, job),
      );
      expect(a).toEqual({ inserted: 10, updated: 0, unchanged: 0 });
      expect(b).toEqual({ inserted: 5, updated: 0, unchanged: 5 });
      expect(sum(a, b).inserted).toBe(15);
      const rows = await storedAll("A");
      expect(rows.map((row) => row.order_code)).toEqual(codes("A", 0, 15));
      // The later rank is recorded even where only the rank changed; the lines stay.
      expect(rows.map((row) => [row.rank_job, row.skus])).toEqual([
        ...codes("A", 0, 5).map(() => ["20", "SKU-1"]),
        ...codes("A", 5, 15).map(() => ["21", "SKU-1"]),
      ]);
    },
  );

  it.skipIf(target.name !== "PostgreSQL")(
    "counts a concurrently inserted order updated by a higher rank with other content, and keeps the higher rank's data",
    async () => {
      const lines = [
        { ...order("x").lines[0], lineNo: 1, sku: "SKU-7" },
        { ...order("x").lines[0], lineNo: 2, sku: "SKU-8" },
      ] as PurchaseOrder["lines"];
      const lower = codes("B", 0, 8).map((code) => order(code, { job: 30 }, { status: "Dikemas" }));
      const higher = codes("B", 0, 8).map((code) => order(code, { job: 31 }, { status: "Dikirim", lines }));
      const [a, b] = await overlapping(
        handle,
        (tx) => upsertPurchases(tx, lower, job),
        (tx) => upsertPurchases(tx, higher, job),
      );
      expect(a).toEqual({ inserted: 8, updated: 0, unchanged: 0 });
      expect(b).toEqual({ inserted: 0, updated: 8, unchanged: 0 });
      const rows = await storedAll("B");
      expect(rows).toEqual(
        codes("B", 0, 8).map((code) => ({ order_code: code, status: "Dikirim", rank_job: "31", skus: "SKU-7,SKU-8" })),
      );
    },
  );

  it.skipIf(target.name !== "PostgreSQL")(
    "counts a lower rank that lost to a concurrent insert unchanged and leaves the higher rank's data",
    async () => {
      const higher = codes("C", 0, 6).map((code) => order(code, { job: 41 }, { status: "Dikirim" }));
      const lower = codes("C", 0, 6).map((code) =>
        order(code, { job: 40 }, { status: "Dikemas", lines: [{ ...order("x").lines[0], sku: "SKU-0" }] as PurchaseOrder["lines"] }),
      );
      const [a, b] = await overlapping(
        handle,
        (tx) => upsertPurchases(tx, higher, job),
        (tx) => upsertPurchases(tx, lower, job),
      );
      expect(a).toEqual({ inserted: 6, updated: 0, unchanged: 0 });
      expect(b).toEqual({ inserted: 0, updated: 0, unchanged: 6 });
      expect(await storedAll("C")).toEqual(
        codes("C", 0, 6).map((code) => ({ order_code: code, status: "Dikirim", rank_job: "41", skus: "SKU-1" })),
      );
    },
  );

  const settlementStore = async (name: string) => {
    const [store] = await handle.db.insert(stores).values({ name, channel: "Shopee" }).returning();
    return store?.id as number;
  };
  const storedSettlements = (storeId: number) =>
    queryRows<{ order_sn: string; net_payout: string }>(
      handle.db,
      sql`select order_sn, net_payout::text from settlements where store_id = ${storeId} order by order_sn`,
    );

  it.skipIf(target.name !== "PostgreSQL")(
    "counts a settlement both writers saw as new inserted once, and the same row from the other writer unchanged",
    async () => {
      const storeId = await settlementStore("Overlap Same Shopee");
      const rows = codes("250601S", 0, 12).map((sn) => settlement(sn));
      const [a, b] = await overlapping(
        handle,
        (tx) => upsertSettlements(tx, storeId, rows.slice(0, 8), job),
        (tx) => upsertSettlements(tx, storeId, rows.slice(4), job),
      );
      expect(a).toEqual({ inserted: 8, updated: 0, unchanged: 0 });
      expect(b).toEqual({ inserted: 4, updated: 0, unchanged: 4 });
      expect(await storedSettlements(storeId)).toEqual(rows.map((row) => ({ order_sn: row.orderSn, net_payout: "69600" })));
    },
  );

  it.skipIf(target.name !== "PostgreSQL")(
    "counts a concurrently inserted settlement with other content updated, and keeps the later write",
    async () => {
      const storeId = await settlementStore("Overlap Changed Shopee");
      const keys = codes("250601C", 0, 6);
      const [a, b] = await overlapping(
        handle,
        (tx) => upsertSettlements(tx, storeId, keys.map((sn) => settlement(sn)), job),
        (tx) => upsertSettlements(tx, storeId, keys.map((sn) => settlement(sn, { netPayout: 1234 })), job),
      );
      expect(a).toEqual({ inserted: 6, updated: 0, unchanged: 0 });
      expect(b).toEqual({ inserted: 0, updated: 6, unchanged: 0 });
      expect(await storedSettlements(storeId)).toEqual(keys.map((sn) => ({ order_sn: sn, net_payout: "1234" })));
    },
  );
});
