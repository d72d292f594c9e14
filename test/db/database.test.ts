/**
 * The database port's contract, run against every adapter dropflow ships: PGlite (dev,
 * embedded), node-postgres (CI and self-hosting) and the Neon serverless driver
 * (production), the last two on a real PostgreSQL 15 and Neon's through the WebSocket
 * relay exactly as on Vercel. A query that works on one and not another fails here.
 */
import { randomUUID } from "node:crypto";
import { eq, inArray, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { startNeonRelay } from "../../dev/neon-relay.js";
import { type DatabaseHandle, openDatabase, queryRows } from "../../lib/db/client.js";
import { migrateDatabase } from "../../lib/db/migrate.js";
import { jobs, purchaseLines, purchases, stores } from "../../lib/db/schema.js";
import {
  createTestDatabase,
  describePostgres,
  migrationJournal,
  neonTest,
  schemaTableNames,
} from "../support/databases.js";

const JOURNAL_ENTRIES = migrationJournal().length;
const SCHEMA_TABLES = schemaTableNames();

/** The SQLSTATE of a failed query, wherever the driver and drizzle put it. */
function sqlStateOf(error: unknown): string | undefined {
  let current: unknown = error;
  while (current instanceof Error) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = current.cause;
  }
  return undefined;
}

async function failureOf(promise: PromiseLike<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected the query to fail, but it succeeded");
    },
    (error: unknown) => error,
  );
}

function databaseContract(current: () => DatabaseHandle): void {
  test("has every table of schema.ts; migrating again applies nothing", async () => {
    const handle = current();
    const rows = await queryRows<{ name: string }>(
      handle.db,
      sql`select table_name as name from information_schema.tables where table_schema = 'public'`,
    );
    expect(rows.map((row) => row.name).sort()).toEqual(expect.arrayContaining(SCHEMA_TABLES));
    expect(await migrateDatabase(handle)).toEqual({ applied: 0, total: JOURNAL_ENTRIES });
    const [count] = await queryRows<{ n: number }>(
      handle.db,
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    expect(count?.n).toBe(JOURNAL_ENTRIES);
  });

  test("inserts and selects stores through drizzle", async () => {
    const { db } = current();
    const [created] = await db
      .insert(stores)
      .values({ name: "Toko Insert", channel: "shopee", marketplaceUsernames: ["toko_1", "toko, two"] })
      .returning();
    expect(created).toMatchObject({ name: "Toko Insert", channel: "shopee" });
    expect(typeof created?.id).toBe("number");
    const found = await db
      .select()
      .from(stores)
      .where(eq(stores.id, created?.id ?? -1));
    expect(found).toHaveLength(1);
    expect(found[0]?.marketplaceUsernames).toEqual(["toko_1", "toko, two"]);
    expect(found[0]?.createdAt).toBeInstanceOf(Date);
  });

  test("store names are unique regardless of case (23505)", async () => {
    const { db } = current();
    await db.insert(stores).values({ name: "Shop A", channel: "shopee" });
    const error = await failureOf(db.insert(stores).values({ name: "shop a", channel: "tokopedia" }));
    expect(sqlStateOf(error)).toBe("23505");
    const rows = await db.select({ name: stores.name }).from(stores).where(sql`lower(${stores.name}) = 'shop a'`);
    expect(rows).toEqual([{ name: "Shop A" }]);
  });

  test("a transaction that throws rolls back and rethrows the error", async () => {
    const { db } = current();
    const boom = new Error("boom");
    await expect(
      db.transaction(async (tx) => {
        await tx.insert(stores).values({ name: "Rolled Back", channel: "shopee" });
        const inside = await tx.select().from(stores).where(eq(stores.name, "Rolled Back"));
        expect(inside).toHaveLength(1);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await db.select().from(stores).where(eq(stores.name, "Rolled Back"))).toEqual([]);
  });

  test("binds a JS array as one parameter with sql.param (unnest insert)", async () => {
    const { db } = current();
    const names = ["Unnest 1", 'Unnest "quoted", with comma', "Unnest {braces} \\ backslash", "Unnest ünïcødé ✓"];
    const channels = ["shopee", "tokopedia", "lazada", "shopee"];
    await db.execute(
      sql`insert into stores (name, channel)
          select * from unnest(${sql.param(names)}::text[], ${sql.param(channels)}::text[])`,
    );
    const rows = await db
      .select({ name: stores.name, channel: stores.channel })
      .from(stores)
      .where(inArray(stores.name, names));
    expect(rows.sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name))).toEqual(
      names.map((name, index) => ({ name, channel: channels[index] })),
    );
    const withNull = await queryRows<{ value: string | null }>(
      db,
      sql`select unnest(${sql.param(["a", null, "b,c"])}::text[]) as value`,
    );
    expect(withNull.map((row) => row.value)).toEqual(["a", null, "b,c"]);
  });

  test("round-trips jsonb (jobs.params) and applies the column defaults", async () => {
    const { db } = current();
    const params = {
      files: [{ name: "orders.csv", size: 1234 }],
      nested: { list: [1, "two", null, true, { deep: [] }] },
      text: 'Rp 1.000 "quoted" ✓',
      largest: Number.MAX_SAFE_INTEGER,
      empty: {},
    };
    const id = randomUUID();
    await db.insert(jobs).values({ id, kind: "import", params });
    const [job] = await db.select().from(jobs).where(eq(jobs.id, id));
    expect(job?.params).toEqual(params);
    expect(job?.status).toBe("queued");
    expect(job?.totals).toEqual({});
    expect(typeof job?.seq).toBe("number");
  });

  test("returns bigint money columns as numbers", async () => {
    const { db } = current();
    const [store] = await db.insert(stores).values({ name: "Money Store", channel: "shopee" }).returning();
    const big = 123_456_789_012_345;
    const jobId = randomUUID();
    await db.insert(purchases).values({
      orderCode: "ORD-MONEY-1",
      storeId: store?.id ?? -1,
      channel: "shopee",
      invoice: "INV/1",
      orderedAt: new Date("2025-01-02T03:04:05Z"),
      status: "completed",
      otherFee: -5_000,
      orderTotal: big,
      contentHash: "h",
      rankJob: 1,
      rankFile: 0,
      rankLine: 2,
      firstJobId: jobId,
      lastJobId: jobId,
    });
    await db.insert(purchaseLines).values({
      orderCode: "ORD-MONEY-1",
      lineNo: 1,
      sku: "SKU-1",
      unitCost: Number.MAX_SAFE_INTEGER,
      qty: 1,
      lineCost: Number.MAX_SAFE_INTEGER,
      unitPrice: 0,
      linePrice: -1,
      lineMargin: -Number.MAX_SAFE_INTEGER,
    });
    const [purchase] = await db.select().from(purchases).where(eq(purchases.orderCode, "ORD-MONEY-1"));
    expect(purchase).toMatchObject({ otherFee: -5_000, partnerFee: 0, orderTotal: big, rankJob: 1 });
    expect(typeof purchase?.orderTotal).toBe("number");
    expect(purchase?.orderedAt.toISOString()).toBe("2025-01-02T03:04:05.000Z");
    const [line] = await db.select().from(purchaseLines).where(eq(purchaseLines.orderCode, "ORD-MONEY-1"));
    expect(line).toMatchObject({
      unitCost: Number.MAX_SAFE_INTEGER,
      lineCost: Number.MAX_SAFE_INTEGER,
      unitPrice: 0,
      linePrice: -1,
      lineMargin: -Number.MAX_SAFE_INTEGER,
    });
  });

  test("queryRows returns the rows of raw SQL", async () => {
    const { db } = current();
    const rows = await queryRows<{ n: number; label: string; flag: boolean }>(
      db,
      sql`select n::int as n, 'row ' || n as label, n % 2 = 0 as flag from generate_series(1, 3) as n`,
    );
    expect(rows).toEqual([
      { n: 1, label: "row 1", flag: false },
      { n: 2, label: "row 2", flag: true },
      { n: 3, label: "row 3", flag: false },
    ]);
    expect(await queryRows(db, sql`select 1 where false`)).toEqual([]);
  });

  test("ping answers", async () => {
    await expect(current().ping()).resolves.toBeUndefined();
  });

  test("withSession runs every statement on one session and passes results and errors through", async () => {
    const handle = current();
    const seen = await handle.withSession(async (session) => {
      await session.execute(sql`select set_config('dropflow.probe', 'on this session', false)`);
      const [row] = await queryRows<{ value: string }>(
        session,
        sql`select current_setting('dropflow.probe', true) as value`,
      );
      await session.execute(sql`select set_config('dropflow.probe', '', false)`);
      return row?.value;
    });
    expect(seen).toBe("on this session");
    const failure = new Error("inside the session");
    await expect(handle.withSession(() => Promise.reject(failure))).rejects.toBe(failure);
    await expect(handle.withSession(async (session) => queryRows(session, sql`select 2 as two`))).resolves.toEqual([
      { two: 2 },
    ]);
  });

  test("runs concurrent queries and transactions", async () => {
    const { db } = current();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        queryRows<{ i: number }>(db, sql`select ${i}::int as i from pg_sleep(0.01)`).then((rows) => rows[0]?.i),
      ),
    );
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => i));
    const names = Array.from({ length: 6 }, (_, i) => `Concurrent ${i}`);
    await Promise.all(
      names.map((name) =>
        db.transaction(async (tx) => {
          const [row] = await tx.insert(stores).values({ name, channel: "shopee" }).returning({ id: stores.id });
          return tx
            .select()
            .from(stores)
            .where(eq(stores.id, row?.id ?? -1));
        }),
      ),
    );
    const stored = await db.select({ name: stores.name }).from(stores).where(inArray(stores.name, names));
    expect(stored.map((row) => row.name).sort()).toEqual(names);
  });
}

describe("database contract: PGlite (in memory)", () => {
  let handle: DatabaseHandle | undefined;
  beforeAll(async () => {
    // ~3 s and ~700 MB per instance: one for the whole file.
    handle = await openDatabase({ driver: "pglite", dataDir: null });
    expect(await migrateDatabase(handle)).toEqual({ applied: JOURNAL_ENTRIES, total: JOURNAL_ENTRIES });
  });
  afterAll(async () => {
    await handle?.close();
  });
  databaseContract(() => {
    if (!handle) throw new Error("PGlite did not open");
    return handle;
  });
});

/** The contract's adapters on the real server, each on its own fresh database for this file. */
const serverTest = neonTest
  .extend("pgHandle", { scope: "file" }, async ({ database }, { onCleanup }) => {
    const handle = await openDatabase({ driver: "pg", url: database.url });
    onCleanup(() => handle.close());
    return handle;
  })
  .extend("neonHandle", { scope: "file" }, async ({ neonRelay }, { onCleanup }) => {
    // Its own database, so that its rows never meet node-postgres's in this file.
    const database = await createTestDatabase();
    const handle = await openDatabase({ driver: "neon", url: database.url, wsProxy: neonRelay.wsProxy });
    onCleanup(async () => {
      await handle.close();
      await neonRelay.idle();
      await database.drop();
    });
    return handle;
  });

describePostgres("database contract: node-postgres on PostgreSQL", () => {
  let handle: DatabaseHandle | undefined;
  serverTest.beforeAll(({ pgHandle }) => {
    handle = pgHandle;
  });
  databaseContract(() => {
    if (!handle) throw new Error("node-postgres handle missing");
    return handle;
  });
});

describePostgres("database contract: Neon serverless driver through the relay", () => {
  let handle: DatabaseHandle | undefined;
  serverTest.beforeAll(({ neonHandle }) => {
    handle = neonHandle;
  });
  databaseContract(() => {
    if (!handle) throw new Error("Neon handle missing");
    return handle;
  });
  serverTest("really goes through the WebSocket relay", async ({ neonHandle, neonRelay }) => {
    await neonHandle.ping();
    expect(neonHandle.driver).toBe("neon");
    expect(neonRelay.connections()).toBeGreaterThan(0);
  });
});

/** The HTTP status of a refused upgrade, or the close code of an accepted WebSocket. */
function relayOutcome(url: string): Promise<{ refused: number } | { closed: number }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once("unexpected-response", (_req, res) => {
      resolve({ refused: res.statusCode ?? 0 });
      res.resume();
      socket.terminate();
    });
    socket.once("close", (code) => resolve({ closed: code }));
    socket.once("error", (error) => {
      // After an unexpected response ws reports an error too; the outcome is already known.
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}

describe("neon relay", () => {
  test("relays only to allowed hosts and closes the WebSocket when Postgres is unreachable", async () => {
    const relay = await startNeonRelay();
    try {
      const base = `ws://${relay.wsProxy}`;
      expect(await relayOutcome(`${base}?address=10.0.0.1:5432`)).toEqual({ refused: 403 });
      expect(await relayOutcome(`${base}?address=example.com:5432`)).toEqual({ refused: 403 });
      expect(await relayOutcome(`${base}?address=127.0.0.1`)).toEqual({ refused: 400 });
      expect(await relayOutcome(base)).toEqual({ refused: 400 });
      // Port 1 on loopback: allowed, but nothing listens; the relay must close, not crash.
      expect(await relayOutcome(`${base}?address=127.0.0.1:1`)).toEqual({ closed: 1011 });
      await relay.idle();
    } finally {
      await relay.close();
    }
  });
});
