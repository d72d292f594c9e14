/**
 * The status table's SQL expression classes every status as its TypeScript twin does,
 * on real Postgres: exact spellings, other cases, leading and trailing blanks, runs of
 * spaces, tabs and line ends inside, and statuses the table does not list.
 */
import { sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statusClassOf, statusClassSql } from "../../lib/reconcile/status-classes.js";
import { availablePostgres, createTestDatabase, type TestDatabase } from "../support/databases.js";

const STATUSES = [
  "Pesanan selesai",
  "  PESANAN   Selesai ",
  "Pesanan\tdibatalkan",
  "pesanan\r\ndikembalikan",
  "Selesai",
  " batal ",
  "Dikembalikan",
  "Pengembalian",
  "Dikirim",
  "Menunggu Konfirmasi Gudang",
  "Pesanan selesaii",
  "Sss",
  "",
];

describe.skipIf(!availablePostgres())("statusClassSql", () => {
  let database: TestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    database = await createTestDatabase();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await database?.drop();
  });

  it("classes each status as statusClassOf does", async () => {
    await client.query("create temp table statuses (n int, status text)");
    await client.query("insert into statuses select n, status from unnest($1::text[]) with ordinality as s(status, n)", [STATUSES]);
    const query = new PgDialect().sqlToQuery(
      sql`select s.status, ${statusClassSql(sql`s.status`)} as class from statuses s order by s.n`,
    );
    const { rows } = await client.query<{ status: string; class: string }>(query.sql, query.params);
    expect(rows.map((row) => [row.status, row.class])).toEqual(STATUSES.map((status) => [status, statusClassOf(status)]));
    // The rows above would all agree on in_progress if the table were never read.
    expect(new Set(rows.map((row) => row.class))).toEqual(new Set(["completed", "cancelled", "returned", "in_progress"]));
  });
});
