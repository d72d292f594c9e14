/**
 * The set-based writes of purchases and settlements, on real Postgres and PGlite:
 * counts (inserted / updated / unchanged), each order or settlement counted once per
 * import whatever the chunking and the commit order, source-rank ordering independent
 * of the order chunks run in, line replacement, store matching, concurrency.
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, type DatabaseHandle, openDatabase, queryRows } from "../../lib/db/client.js";
import { migrateDatabase } from "../../lib/db/migrate.js";
import { stores } from "../../lib/db/schema.js";
import { chunkCountsByFile } from "../../lib/imports/file-status.js";
import { sumCountsByKey } from "../../lib/jobs/outcomes.js";
import type { PurchaseOrder, Settlement, SourceRank, TakenBack, UpsertCounts } from "../../lib/imports/model.js";
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
    rank: { job: 1, file: 0, line: 2 },
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
  // Two transactions at once need two connections: PGlite has one, so the concurrency
  // cases are defined for the PostgreSQL server only (not skipped on PGlite: absent).
  const itWithConcurrency: typeof it = target.name === "PostgreSQL" ? it : ((() => undefined) as unknown as typeof it);
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;
  // One import id per rank job, as in an import (its seq is the rank's job): the
  // counters are per import, so two writes of one rank job are chunks of one import.
  const jobIds = new Map<number, string>();
  const jobFor = (seq: number) => {
    const id = jobIds.get(seq) ?? randomUUID();
    jobIds.set(seq, id);
    return id;
  };
  const jobOf = (rows: Array<{ rank: SourceRank }>) => jobFor(rows[0]?.rank.job ?? 0);

  beforeAll(async () => {
    ({ handle, dispose } = await target.open());
  });
  afterAll(() => dispose());

  const write = (orders: PurchaseOrder[]) => handle.db.transaction((tx) => upsertPurchases(tx, orders, jobOf(orders)));
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
    const upsert = (rows: Settlement[]) =>
      handle.db.transaction((tx) => upsertSettlements(tx, storeId, rows, jobOf(rows)));
    expect(await upsert([settlement("250501AAAAAAAA"), settlement("250501BBBBBBBB")])).toEqual({
      inserted: 2,
      updated: 0,
      unchanged: 0,
    });
    // A later import (rank job 2) with one row changed.
    const later = { rank: { job: 2, file: 0, line: 2 } };
    expect(
      await upsert([settlement("250501AAAAAAAA", later), settlement("250501BBBBBBBB", { ...later, netPayout: 1 })]),
    ).toEqual({
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

  itWithConcurrency("lets two concurrent imports of the same new orders finish without duplicates", async () => {
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

  itWithConcurrency(
    "counts an order both writers saw as new inserted once, and the same content from the later writer unchanged",
    async () => {
      // Overlapping chunks: A000..A009 in the first write, A005..A014 in the second.
      const first = codes("A", 0, 10).map((code) => order(code, { job: 20 }));
      const second = codes("A", 5, 15).map((code) => order(code, { job: 21 }));
      const [a, b] = await overlapping(
        handle,
        (tx) => upsertPurchases(tx, first, jobOf(first)),
        (tx) => upsertPurchases(tx, second, jobOf(second)),
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

  itWithConcurrency(
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
        (tx) => upsertPurchases(tx, lower, jobOf(lower)),
        (tx) => upsertPurchases(tx, higher, jobOf(higher)),
      );
      expect(a).toEqual({ inserted: 8, updated: 0, unchanged: 0 });
      expect(b).toEqual({ inserted: 0, updated: 8, unchanged: 0 });
      const rows = await storedAll("B");
      expect(rows).toEqual(
        codes("B", 0, 8).map((code) => ({ order_code: code, status: "Dikirim", rank_job: "31", skus: "SKU-7,SKU-8" })),
      );
    },
  );

  itWithConcurrency(
    "counts a lower rank that lost to a concurrent insert unchanged and leaves the higher rank's data",
    async () => {
      const higher = codes("C", 0, 6).map((code) => order(code, { job: 41 }, { status: "Dikirim" }));
      const lower = codes("C", 0, 6).map((code) =>
        order(code, { job: 40 }, { status: "Dikemas", lines: [{ ...order("x").lines[0], sku: "SKU-0" }] as PurchaseOrder["lines"] }),
      );
      const [a, b] = await overlapping(
        handle,
        (tx) => upsertPurchases(tx, higher, jobOf(higher)),
        (tx) => upsertPurchases(tx, lower, jobOf(lower)),
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

  itWithConcurrency(
    "counts a settlement both imports saw as new inserted once, and the same row from the later import unchanged",
    async () => {
      const storeId = await settlementStore("Overlap Same Shopee");
      const rows = codes("250601S", 0, 12).map((sn) => settlement(sn));
      const first = rows.slice(0, 8).map((row) => ({ ...row, rank: { job: 50, file: 0, line: 2 } }));
      const second = rows.slice(4).map((row) => ({ ...row, rank: { job: 51, file: 0, line: 2 } }));
      const [a, b] = await overlapping(
        handle,
        (tx) => upsertSettlements(tx, storeId, first, jobOf(first)),
        (tx) => upsertSettlements(tx, storeId, second, jobOf(second)),
      );
      expect(a).toEqual({ inserted: 8, updated: 0, unchanged: 0 });
      expect(b).toEqual({ inserted: 4, updated: 0, unchanged: 4 });
      expect(await storedSettlements(storeId)).toEqual(rows.map((row) => ({ order_sn: row.orderSn, net_payout: "69600" })));
    },
  );

  itWithConcurrency(
    "counts a concurrently inserted settlement with other content from a later import updated, and keeps its row",
    async () => {
      const storeId = await settlementStore("Overlap Changed Shopee");
      const keys = codes("250601C", 0, 6);
      const lower = keys.map((sn) => settlement(sn, { rank: { job: 60, file: 0, line: 2 } }));
      const higher = keys.map((sn) => settlement(sn, { netPayout: 1234, rank: { job: 61, file: 0, line: 2 } }));
      const [a, b] = await overlapping(
        handle,
        (tx) => upsertSettlements(tx, storeId, lower, jobOf(lower)),
        (tx) => upsertSettlements(tx, storeId, higher, jobOf(higher)),
      );
      expect(a).toEqual({ inserted: 6, updated: 0, unchanged: 0 });
      expect(b).toEqual({ inserted: 0, updated: 6, unchanged: 0 });
      expect(await storedSettlements(storeId)).toEqual(keys.map((sn) => ({ order_sn: sn, net_payout: "1234" })));
    },
  );

  itWithConcurrency(
    "counts a settlement of an earlier import that lost to a concurrent later one unchanged, and keeps the later row",
    async () => {
      const storeId = await settlementStore("Overlap Lower Shopee");
      const keys = codes("250601L", 0, 6);
      const higher = keys.map((sn) => settlement(sn, { netPayout: 4321, rank: { job: 71, file: 0, line: 2 } }));
      const lower = keys.map((sn) => settlement(sn, { rank: { job: 70, file: 0, line: 2 } }));
      const [a, b] = await overlapping(
        handle,
        (tx) => upsertSettlements(tx, storeId, higher, jobOf(higher)),
        (tx) => upsertSettlements(tx, storeId, lower, jobOf(lower)),
      );
      expect(a).toEqual({ inserted: 6, updated: 0, unchanged: 0 });
      expect(b).toEqual({ inserted: 0, updated: 0, unchanged: 6 });
      expect(await storedSettlements(storeId)).toEqual(keys.map((sn) => ({ order_sn: sn, net_payout: "4321" })));
    },
  );

  // -------------------------------------------------------------------------------
  // Once per import: an import that holds an order in two blocks (two exports pasted
  // together, overlapping files) counts it once, by its final version against what the
  // database held before the import, whether the blocks fall in one chunk or in two
  // chunks committed in either order.

  let nextSeq = 1000;
  // Each status comes with its own lines, so a block's lines follow its status.
  const SKUS: Record<string, string[]> = { Dikemas: ["SKU-0"], Dikirim: ["SKU-1"], "Pesanan selesai": ["SKU-2", "SKU-3"] };
  const version = (code: string, rank: Partial<SourceRank>, status: string) =>
    order(code, rank, {
      status,
      lines: (SKUS[status] ?? []).map((sku, i) => ({ ...order("x").lines[0], lineNo: i + 1, sku })) as PurchaseOrder["lines"],
    });
  type Arrangement = "one chunk" | "two chunks, rank order" | "two chunks, reverse order";
  const ARRANGEMENTS: Arrangement[] = ["one chunk", "two chunks, rank order", "two chunks, reverse order"];
  /** Runs the import's two blocks as `arrangement` says; returns each chunk's counts. */
  const runChunks = async (arrangement: Arrangement, early: PurchaseOrder[], late: PurchaseOrder[]) => {
    if (arrangement === "one chunk") return [await write([...early, ...late])];
    if (arrangement === "two chunks, rank order") return [await write(early), await write(late)];
    return [await write(late), await write(early)];
  };

  interface BlockCase {
    name: string;
    /** The order's status before the import (null: absent), and in the import's two blocks. */
    before: string | null;
    early: string;
    late: string;
    counts: UpsertCounts;
  }
  const BLOCK_CASES: BlockCase[] = [
    { name: "a new order", before: null, early: "Dikemas", late: "Dikirim", counts: { inserted: 1, updated: 0, unchanged: 0 } },
    {
      name: "an existing order changed in the later block",
      before: "Dikemas",
      early: "Dikemas",
      late: "Dikirim",
      counts: { inserted: 0, updated: 1, unchanged: 0 },
    },
    {
      name: "an existing order changed in both blocks",
      before: "Dikemas",
      early: "Dikirim",
      late: "Pesanan selesai",
      counts: { inserted: 0, updated: 1, unchanged: 0 },
    },
    {
      name: "an existing order unchanged in both blocks",
      before: "Dikemas",
      early: "Dikemas",
      late: "Dikemas",
      counts: { inserted: 0, updated: 0, unchanged: 1 },
    },
    {
      name: "an existing order changed, then reverted in a later block",
      before: "Dikemas",
      early: "Dikirim",
      late: "Dikemas",
      counts: { inserted: 0, updated: 0, unchanged: 1 },
    },
  ];

  /** Imports `c` for order `code`: the earlier import (if any), then this one's two blocks. */
  const importBlocks = async (c: BlockCase, code: string, arrangement: Arrangement) => {
    const [beforeSeq, seq] = [nextSeq++, nextSeq++];
    if (c.before !== null) await write([version(code, { job: beforeSeq }, c.before)]);
    const early = [version(code, { job: seq, file: 0, line: 2 }, c.early)];
    const late = [version(code, { job: seq, file: 1, line: 2 }, c.late)];
    const chunks = await runChunks(arrangement, early, late);
    const [row] = await storedAll(code);
    return { counts: sum(...chunks), chunks, row };
  };

  describe.each(BLOCK_CASES)("$name in two blocks of one import", (c) => {
    it("counts it once, the same whatever the chunking and the commit order, and keeps the later block", async () => {
      const outcomes = [];
      for (const [i, arrangement] of ARRANGEMENTS.entries()) {
        const code = `D${BLOCK_CASES.indexOf(c)}${i}`;
        const { counts, row } = await importBlocks(c, code, arrangement);
        outcomes.push({ arrangement, counts, row: { ...row, order_code: "", rank_job: "" } });
        expect(counts, arrangement).toEqual(c.counts);
      }
      for (const outcome of outcomes) {
        expect(outcome.row, outcome.arrangement).toEqual({
          order_code: "",
          rank_job: "",
          status: c.late,
          skus: (SKUS[c.late] ?? []).join(","),
        });
      }
    });
  });

  it("takes back an earlier chunk's count: the later chunk's figures may be negative, the sum is not", async () => {
    const c = BLOCK_CASES.find((one) => one.name.includes("reverted")) as BlockCase;
    const { chunks, counts } = await importBlocks(c, "E001", "two chunks, rank order");
    expect(chunks).toEqual([
      { inserted: 0, updated: 1, unchanged: 0 },
      { inserted: 0, updated: -1, unchanged: 1 },
    ]);
    expect(counts).toEqual({ inserted: 0, updated: 0, unchanged: 1 });
  });

  /**
   * Every case at once, so one chunk's statements mix inserts, full writes, rank-only
   * writes and superseded blocks; on PostgreSQL also with the two chunks in flight together.
   */
  const mixedImport = async (prefix: string, run: (early: PurchaseOrder[], late: PurchaseOrder[]) => Promise<UpsertCounts[]>) => {
    const [beforeSeq, seq] = [nextSeq++, nextSeq++];
    const code = (k: number) => `${prefix}${k}`;
    const before = BLOCK_CASES.flatMap((c, k) =>
      c.before === null ? [] : [version(code(k), { job: beforeSeq }, c.before)],
    );
    if (before.length > 0) await write(before);
    const early = BLOCK_CASES.map((c, k) => version(code(k), { job: seq, file: 0, line: 2 + k }, c.early));
    const late = BLOCK_CASES.map((c, k) => version(code(k), { job: seq, file: 1, line: 2 + k }, c.late));
    const counts = sum(...(await run(early, late)));
    const rows = (await storedAll(prefix)).map((row) => ({ ...row, order_code: row.order_code.slice(prefix.length), rank_job: "" }));
    return { counts, rows };
  };
  const MIXED_COUNTS = { inserted: 1, updated: 2, unchanged: 2 };

  it("counts a chunk mixing every case as one whole-file pass does, in either commit order", async () => {
    const whole = await mixedImport("F0", async (early, late) => [await write([...early, ...late])]);
    expect(whole.counts).toEqual(MIXED_COUNTS);
    expect(whole.rows.map((row) => row.status)).toEqual(BLOCK_CASES.map((c) => c.late));
    const inOrder = await mixedImport("F1", async (early, late) => [await write(early), await write(late)]);
    const reverse = await mixedImport("F2", async (early, late) => [await write(late), await write(early)]);
    expect(inOrder).toEqual(whole);
    expect(reverse).toEqual(whole);
  });

  it("gives each file the counts of the versions it holds at the end, never negative, in either commit order", async () => {
    // As the import kind does: each chunk's net counters plus what it took back, by file.
    const chunkOf = async (orders: PurchaseOrder[], position: number) => {
      const takenBack: TakenBack = new Map();
      const counts = await handle.db.transaction((tx) => upsertPurchases(tx, orders, jobOf(orders), { takenBack }));
      const counters = { orders_inserted: counts.inserted, orders_updated: counts.updated, orders_unchanged: counts.unchanged };
      const countsByKey = chunkCountsByFile(`file-${position}`, counters, "orders", takenBack, (at) => `file-${at}`);
      return { counts, countsByKey };
    };
    const perFile: Array<ReturnType<typeof sumCountsByKey>> = [];
    for (const [prefix, reverse] of [["H1", false], ["H2", true]] as const) {
      await mixedImport(prefix, async (early, late) => {
        const chunks = reverse
          ? [await chunkOf(late, 1), await chunkOf(early, 0)]
          : [await chunkOf(early, 0), await chunkOf(late, 1)];
        perFile.push(sumCountsByKey(chunks));
        return chunks.map((one) => one.counts);
      });
    }
    // Every final version is the later block's (file 1): file 0 keeps no count.
    const expected = {
      "file-0": { orders_inserted: 0, orders_updated: 0, orders_unchanged: 0 },
      "file-1": { orders_inserted: MIXED_COUNTS.inserted, orders_updated: MIXED_COUNTS.updated, orders_unchanged: MIXED_COUNTS.unchanged },
    };
    expect(perFile[0]).toEqual(expected);
    expect(perFile[1]).toEqual(expected);
  });

  itWithConcurrency(
    "counts two chunks of one import in flight together as one whole-file pass, either holding its locks first",
    async () => {
      const whole = await mixedImport("G0", async (early, late) => [await write([...early, ...late])]);
      const lateFirst = await mixedImport("G1", (early, late) =>
        overlapping(
          handle,
          (tx) => upsertPurchases(tx, late, jobOf(late)),
          (tx) => upsertPurchases(tx, early, jobOf(early)),
        ),
      );
      const earlyFirst = await mixedImport("G2", (early, late) =>
        overlapping(
          handle,
          (tx) => upsertPurchases(tx, early, jobOf(early)),
          (tx) => upsertPurchases(tx, late, jobOf(late)),
        ),
      );
      expect(whole.counts).toEqual(MIXED_COUNTS);
      expect(lateFirst).toEqual(whole);
      expect(earlyFirst).toEqual(whole);
    },
  );

  it("keeps the highest-ranked row of a settlement repeated across two files of one import and counts it once", async () => {
    const outcomes = [];
    for (const [i, commitOrder] of (["file 0 first", "file 1 first"] as const).entries()) {
      const storeId = await settlementStore(`Two Files ${i} Shopee`);
      const [beforeSeq, seq] = [nextSeq++, nextSeq++];
      const earlier = { rank: { job: beforeSeq, file: 0, line: 2 } };
      // Before: R (reverted later) 50, U (updated) 70. Then this import's two files.
      const before = [settlement("R", { ...earlier, netPayout: 50 }), settlement("U", { ...earlier, netPayout: 70 })];
      await handle.db.transaction((tx) => upsertSettlements(tx, storeId, before, jobFor(beforeSeq)));
      const at = (file: number, line: number) => ({ rank: { job: seq, file, line } });
      const file0 = [
        settlement("N", { ...at(0, 2), netPayout: 10 }),
        settlement("R", { ...at(0, 3), netPayout: 100 }),
        settlement("U", { ...at(0, 4), netPayout: 70 }),
        settlement("O", { ...at(0, 5), netPayout: 1 }),
      ];
      const file1 = [
        settlement("N", { ...at(1, 2), netPayout: 20 }),
        settlement("R", { ...at(1, 3), netPayout: 50 }),
        settlement("U", { ...at(1, 4), netPayout: 80 }),
        settlement("T", { ...at(1, 5), netPayout: 2 }),
      ];
      const upsert = (rows: Settlement[]) =>
        handle.db.transaction((tx) => upsertSettlements(tx, storeId, rows, jobFor(seq)));
      const chunks =
        commitOrder === "file 0 first" ? [await upsert(file0), await upsert(file1)] : [await upsert(file1), await upsert(file0)];
      const rows = await queryRows(
        handle.db,
        sql`select order_sn, net_payout::text, rank_file, rank_line from settlements where store_id = ${storeId} order by order_sn`,
      );
      outcomes.push({ commitOrder, counts: sum(...chunks), rows });
    }
    for (const outcome of outcomes) {
      // N and T new, O new (only in file 0), U updated (70 -> 80), R unchanged (50 -> 100 -> 50).
      expect(outcome.counts, outcome.commitOrder).toEqual({ inserted: 3, updated: 1, unchanged: 1 });
      expect(outcome.rows, outcome.commitOrder).toEqual([
        { order_sn: "N", net_payout: "20", rank_file: 1, rank_line: 2 },
        { order_sn: "O", net_payout: "1", rank_file: 0, rank_line: 5 },
        { order_sn: "R", net_payout: "50", rank_file: 1, rank_line: 3 },
        { order_sn: "T", net_payout: "2", rank_file: 1, rank_line: 5 },
        { order_sn: "U", net_payout: "80", rank_file: 1, rank_line: 4 },
      ]);
    }
  });
});
