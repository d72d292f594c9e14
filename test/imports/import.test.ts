/**
 * Imports end to end, in process: the dev server with its embedded Blob and QStash
 * stand-ins, real Postgres, files put into object storage and imported through
 * POST /api/imports like a client would, the job engine doing the rest.
 */
import { readFileSync } from "node:fs";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../../dev/server.js";
import { queryRows } from "../../lib/db/client.js";
import { stores } from "../../lib/db/schema.js";
import { newImportKey } from "../../lib/storage/index.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { availablePostgres } from "../support/databases.js";
import { waitForImport } from "../support/job-status.js";
import { NEEDS_SHARED_FIXTURES, sharedFixture } from "../support/shared-fixtures.js";

const fixturePath = sharedFixture("shopee-income-2025-05.csv");
const TOKEN = "import-test-token-0123456789";
const postgres = availablePostgres();

describe.skipIf(!postgres)("imports end to end", () => {
  let app: AppServer;
  let server: DevServer;

  beforeAll(async () => {
    app = await startAppServer(TOKEN, {
      DROPFLOW_CHUNK_ROWS: "100",
      DROPFLOW_MAX_DURATION_S: "10",
      DROPFLOW_DEADLINE_MARGIN_S: "1",
      DROPFLOW_STALL_S: "5",
      // Nothing hashed in POST /api/imports: twins reach the planner, whose check is the
      // safety net (test/api/imports-duplicates.test.ts has the 400s at create).
      DROPFLOW_IMPORT_HASH_BUDGET_BYTES: "0",
    });
    server = app.server;
  });
  afterAll(() => app?.close());


  async function upload(name: string, bytes: Buffer): Promise<string> {
    const key = newImportKey(name);
    await server.runtime.objectStore().put(key, bytes, { contentType: "text/csv" });
    return key;
  }

  // Stops at the first answer with the job terminal: a test checks that its files are final by then.
  const finished = (id: string) =>
    waitForImport<{
      status: string;
      counts: Record<string, number>;
      errors_by_code: Record<string, number>;
      files: Array<{ name: string; status: string; error: { code: string; message: string } | null }>;
    }>(app, id);

  it.skipIf(!fixturePath)("imports the real Shopee income report: every order, no row error, totals equal total(Rp)", NEEDS_SHARED_FIXTURES, async () => {
    const bytes = readFileSync(fixturePath as string);
    const { db } = await server.runtime.database();
    await db.insert(stores).values({ name: "MR eStore Shopee", channel: "Shopee" });
    const key = await upload("Income.sudah dilepas.csv", bytes);
    const created = await app.api("/api/imports", {
      method: "POST",
      body: JSON.stringify({ file_type: "settlements", store: "mr estore shopee", files: [{ key, name: "income.csv" }] }),
    });
    expect(created.status).toBe(202);
    const { job_id } = (await created.json()) as { job_id: string };
    const status = await finished(job_id);
    expect(status.status).toBe("completed");
    expect(status.errors_by_code).toEqual({});
    expect(status.counts).toMatchObject({ rows: 705, row_errors: 0, settlements_inserted: 705 });
    expect(status.files[0]).toMatchObject({ status: "completed", error: null });

    // The report's own total(Rp) line (line 5) against what landed.
    const lines = bytes.toString("utf8").replace(/^\uFEFF/, "").split("\r\n");
    const header = (lines[5] as string).match(/("[^"]*"|[^,]*)(,|$)/g)?.map((f) => f.replace(/,$/, "").replace(/^"|"$/g, "")) ?? [];
    const totals = (lines[4] as string).split(",");
    const expected = (name: string) => Number(totals[header.indexOf(name)] || 0);
    const [sums] = await queryRows<Record<string, string>>(
      db,
      sql`select sum(gross_product_price)::text as gross, sum(net_payout)::text as net, sum(admin_fee)::text as admin,
                 sum(service_fee)::text as service, sum(seller_voucher)::text as voucher, count(*)::text as n
          from settlements`,
    );
    expect(Number(sums?.n)).toBe(705);
    expect(Number(sums?.gross)).toBe(expected("Harga Asli Produk"));
    expect(Number(sums?.net)).toBe(expected("Total Penghasilan"));
    expect(Number(sums?.admin)).toBe(expected("Biaya Administrasi"));
    expect(Number(sums?.service)).toBe(expected("Biaya Layanan (termasuk PPN 11%)"));
    expect(Number(sums?.voucher)).toBe(expected("Diskon Voucher Ditanggung Penjual"));
    const [store] = await db.select().from(stores);
    expect(store?.marketplaceUsernames).toEqual(["mrest0re"]);

    // The same report again changes nothing, and later reports of the linked seller need no store.
    const again = await app.api("/api/imports", {
      method: "POST",
      body: JSON.stringify({ file_type: "settlements", files: [{ key, name: "income.csv" }] }),
    });
    const second = await finished(((await again.json()) as { job_id: string }).job_id);
    expect(second.status).toBe("completed");
    expect(second.counts).toMatchObject({ settlements_inserted: 0, settlements_updated: 0, settlements_unchanged: 705 });
  });

  it.skipIf(!fixturePath)("dry-runs a settlement report without writing a row or linking the seller to the store", NEEDS_SHARED_FIXTURES, async () => {
    const { db } = await server.runtime.database();
    await db.insert(stores).values({ name: "Dry Store", channel: "Shopee" });
    const key = await upload("dry income.csv", readFileSync(fixturePath as string));
    const created = await app.api("/api/imports", {
      method: "POST",
      body: JSON.stringify({ file_type: "settlements", store: "Dry Store", dry_run: true, files: [{ key, name: "income.csv" }] }),
    });
    const status = await finished(((await created.json()) as { job_id: string }).job_id);
    expect(status.status).toBe("completed");
    expect(status.counts).toMatchObject({ rows: 705, row_errors: 0, settlements_inserted: 705 });
    const [store] = await queryRows<{ usernames: string[]; settled: number }>(
      db,
      sql`select s.marketplace_usernames as usernames, (select count(*)::int from settlements t where t.store_id = s.id) as settled
          from stores s where s.name = 'Dry Store'`,
    );
    expect(store).toEqual({ usernames: [], settled: 0 });
  });

  it("fails a broken workbook and an unknown header with a clear message while the other file imports", async () => {
    const good = [
      "No,Waktu Pesanan Terbuat,Status Pesanan Terakhir,Kode Pesanan,Kode Transaksi,SKU,Nama Produk,Harga Produk,Qty,Total Harga Produk,Biaya Lainnya,Biaya Mitra Jakmall,Total Transaksi,Harga Produk Channel,Total Harga Produk Channel,Potensi Keuntungan,Dibuat Oleh,Jenis Channel,Nama Toko,Kode Invoice Channel,Gudang Pengiriman,Jenis Ekspedisi,Cashless,Nomor Resi,Waktu Pengiriman,Provinsi,Kota",
      '1,03 March 2025 14:05:09,Pesanan selesai,9001,5001,SKU-1,"Kabel, USB",25000,2,50000,0,2000,52000,40000,80000,30000,ops,Shopee,Toko A,\'2503038XK2M4QA,Jakarta,JNE,Ya,,,DKI Jakarta,Jakarta Barat',
      "2,03 March 2025 14:05:09,Pesanan selesai,9002,5002,SKU-2,Lampu,10000,0,0,0,2000,2000,15000,0,0,ops,Shopee,Toko A,2503039XK2M4QA,Jakarta,JNE,Ya,,,DKI Jakarta,Jakarta Barat",
    ].join("\r\n");
    const files = [
      { name: "good.csv", key: await upload("good.csv", Buffer.from(good)) },
      { name: "sheet.xlsx", key: await upload("sheet.xlsx", Buffer.from("PK\u0003\u0004binary-workbook")) },
      { name: "other.csv", key: await upload("other.csv", Buffer.from("a,b,c\r\n1,2,3\r\n")) },
    ];
    const created = await app.api("/api/imports", { method: "POST", body: JSON.stringify({ file_type: "purchases", files }) });
    expect(created.status).toBe(202);
    const status = await finished(((await created.json()) as { job_id: string }).job_id);
    expect(status.status).toBe("completed_with_errors");
    expect(status.files.map((f) => [f.name, f.status, f.error?.code ?? null])).toEqual([
      ["good.csv", "completed_with_errors", null],
      ["sheet.xlsx", "failed", "not_a_workbook"],
      ["other.csv", "failed", "unknown_header"],
    ]);
    // A zip is read as a workbook now (test/imports/xlsx/ has the rest); this one is not even a whole zip.
    expect(status.files[1]?.error?.message).toMatch(/not an \.xlsx workbook: the zip cannot be read/);
    expect(status.counts).toMatchObject({ rows: 2, row_errors: 1, orders_inserted: 1 });
    expect(status.errors_by_code).toEqual({ bad_qty: 1 });
    const errors = (await (await app.api(`/api/imports/${(status as unknown as { id: string }).id}/errors`)).json()) as {
      errors: Array<{ file: string; line: number; column: string; code: string }>;
    };
    expect(errors.errors).toEqual([expect.objectContaining({ file: "good.csv", line: 3, column: "Qty", code: "bad_qty" })]);
  });

  it("ends completed_with_errors when a file fails at planning, with every file final as soon as the import is", async () => {
    const header =
      "No,Waktu Pesanan Terbuat,Status Pesanan Terakhir,Kode Pesanan,Kode Transaksi,SKU,Nama Produk,Harga Produk,Qty,Total Harga Produk,Biaya Lainnya,Biaya Mitra Jakmall,Total Transaksi,Harga Produk Channel,Total Harga Produk Channel,Potensi Keuntungan,Dibuat Oleh,Jenis Channel,Nama Toko,Kode Invoice Channel,Gudang Pengiriman,Jenis Ekspedisi,Cashless,Nomor Resi,Waktu Pengiriman,Provinsi,Kota";
    const good = [
      header,
      "1,03 March 2025 14:05:09,Pesanan selesai,9101,5101,SKU-1,Kabel,25000,2,50000,0,2000,52000,40000,80000,30000,ops,Shopee,Toko A,2503038XK2M4QB,Jakarta,JNE,Ya,,,DKI Jakarta,Jakarta Barat",
    ].join("\r\n");
    const files = [
      { name: "good.csv", key: await upload("good.csv", Buffer.from(good)) },
      { name: "header-only.csv", key: await upload("header-only.csv", Buffer.from(`${header}\r\n`)) },
      { name: "other.csv", key: await upload("other.csv", Buffer.from("x,y\r\n1,2\r\n")) },
    ];
    const created = await app.api("/api/imports", { method: "POST", body: JSON.stringify({ file_type: "purchases", files }) });
    expect(created.status).toBe(202);
    // The first answer that shows the import finished must show every file finished too.
    const status = await finished(((await created.json()) as { job_id: string }).job_id);
    expect(status.status).toBe("completed_with_errors");
    expect(status.files.map((f) => [f.name, f.status, f.error?.code ?? null])).toEqual([
      ["good.csv", "completed", null],
      ["header-only.csv", "completed", null],
      ["other.csv", "failed", "unknown_header"],
    ]);
    expect(status.counts).toMatchObject({ rows: 1, row_errors: 0, orders_inserted: 1 });
  });

  it("drops the rows a dry run kept for a retry a week after it finished, when an import settles", async () => {
    const { db } = await server.runtime.database();
    const [old] = await queryRows<{ id: string }>(
      db,
      sql`insert into jobs (id, kind, status, finished_at) values (gen_random_uuid(), 'import', 'completed_with_errors', now() - interval '8 days')
          returning id`,
    );
    const [recent] = await queryRows<{ id: string }>(
      db,
      sql`insert into jobs (id, kind, status, finished_at) values (gen_random_uuid(), 'import', 'completed_with_errors', now() - interval '1 day')
          returning id`,
    );
    for (const job of [old, recent]) {
      await queryRows(
        db,
        sql`insert into import_dry_run_rows (job_id, row_type, key, rank_file, rank_line, outcome)
            values (${job?.id}::uuid, 'orders', 'K1', 0, 2, 'inserted')`,
      );
    }
    const bytes = purchaseFile(["7501"]);
    const created = await app.api("/api/imports", {
      method: "POST",
      body: JSON.stringify({ file_type: "purchases", files: [{ name: "sweep.csv", key: await upload("sweep.csv", bytes) }] }),
    });
    await finished(((await created.json()) as { job_id: string }).job_id);
    const left = await queryRows<{ job_id: string }>(db, sql`select job_id from import_dry_run_rows`);
    expect(left).toEqual([{ job_id: recent?.id }]);
  });

  it("refuses an unknown store and a missing file with 400 naming the field", async () => {
    const unknown = await app.api("/api/imports", {
      method: "POST",
      body: JSON.stringify({ file_type: "settlements", store: "Nope", files: [{ key: "imports/x/a.csv", name: "a.csv" }] }),
    });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(/Unknown store "Nope"/);
    const missing = await app.api("/api/imports", {
      method: "POST",
      body: JSON.stringify({ file_type: "purchases", files: [{ key: "imports/none/missing.csv", name: "m.csv" }] }),
    });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { fields: Array<{ field: string }> } }).error.fields[0]?.field).toBe(
      "files.0",
    );
    const traversal = await app.api("/api/imports", {
      method: "POST",
      body: JSON.stringify({ file_type: "purchases", files: [{ key: "../etc/passwd", name: "p.csv" }] }),
    });
    expect(traversal.status).toBe(400);
  });

  it("recommends a chunk size and a duration from the imports measured so far", async () => {
    const response = await app.api("/api/imports/recommendations?file_count=100&avg_file_size=3430000");
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      chunk_rows: number;
      expected_rows: number;
      expected_seconds: number;
      basis: { from_history: boolean; rows_per_s: number; bytes_per_row: number };
    };
    expect(body.basis.from_history).toBe(true);
    expect(body.chunk_rows).toBeGreaterThanOrEqual(100);
    // bytes_per_row is shown rounded; the estimate uses the exact figure.
    expect(body.expected_rows / (343_000_000 / body.basis.bytes_per_row)).toBeCloseTo(1, 1);
    expect(body.expected_seconds).toBeGreaterThan(0);
    const bad = await app.api("/api/imports/recommendations?file_count=0&avg_file_size=1");
    expect(bad.status).toBe(400);
  });

  const purchaseFile = (codes: string[], status = "Pesanan selesai") =>
    Buffer.from(
      [
        "No,Waktu Pesanan Terbuat,Status Pesanan Terakhir,Kode Pesanan,Kode Transaksi,SKU,Nama Produk,Harga Produk,Qty,Total Harga Produk,Biaya Lainnya,Biaya Mitra Jakmall,Total Transaksi,Harga Produk Channel,Total Harga Produk Channel,Potensi Keuntungan,Dibuat Oleh,Jenis Channel,Nama Toko,Kode Invoice Channel,Gudang Pengiriman,Jenis Ekspedisi,Cashless,Nomor Resi,Waktu Pengiriman,Provinsi,Kota",
        ...codes.flatMap((code, i) => [
          `${2 * i + 1},03 March 2025 14:05:09,${status},${code},5${code},SKU-1,Kabel,25000,2,50000,0,2000,62000,40000,80000,30000,ops,Shopee,Toko B,2503${code}XK2M,Jakarta,JNE,Ya,,,DKI Jakarta,Jakarta Barat`,
          `${2 * i + 2},03 March 2025 14:05:09,${status},${code},5${code},SKU-2,Lampu,10000,1,10000,,,,15000,15000,5000,ops,Shopee,Toko B,2503${code}XK2M,Jakarta,JNE,Ya,,,DKI Jakarta,Jakarta Barat`,
        ]),
      ].join("\r\n"),
    );
  const countLines = async (prefix: string) => {
    const { db } = await server.runtime.database();
    const [row] = await queryRows<{ orders: number; lines: number }>(
      db,
      sql`select count(distinct order_code)::int as orders, count(*)::int as lines from purchase_lines where order_code like ${`${prefix}%`}`,
    );
    return row;
  };
  const importOf = async (files: Array<{ key: string; name: string }>, extra: Record<string, unknown> = {}) => {
    const created = await app.api("/api/imports", { method: "POST", body: JSON.stringify({ file_type: "purchases", files, ...extra }) });
    expect(created.status).toBe(202);
    return finished(((await created.json()) as { job_id: string }).job_id);
  };

  it("reports in a dry run what the import would do, and writes nothing", async () => {
    const key = await upload("dry.csv", purchaseFile(["7101", "7102"]));
    const dry = await importOf([{ key, name: "dry.csv" }], { dry_run: true });
    expect(dry.status).toBe("completed");
    expect(dry.counts).toMatchObject({ rows: 4, orders_inserted: 2, lines: 4, row_errors: 0 });
    expect(await countLines("710")).toEqual({ orders: 0, lines: 0 });
    const real = await importOf([{ key, name: "dry.csv" }]);
    expect(real.counts).toMatchObject({ rows: 4, orders_inserted: 2, lines: 4 });
    expect(await countLines("710")).toEqual({ orders: 2, lines: 4 });
  });

  it("imports the same file twice at once without duplicate lines, and again as all unchanged", async () => {
    const key = await upload("twice.csv", purchaseFile(["7201", "7202", "7203"]));
    const [a, b] = await Promise.all([importOf([{ key, name: "twice.csv" }]), importOf([{ key, name: "twice.csv" }])]);
    expect([a.status, b.status]).toEqual(["completed", "completed"]);
    expect(await countLines("720")).toEqual({ orders: 3, lines: 6 });
    const again = await importOf([{ key, name: "twice.csv" }]);
    expect(again.counts).toMatchObject({ orders_inserted: 0, orders_updated: 0, orders_unchanged: 3 });
  });

  it("lets the later file win for overlapping orders, whatever order the chunks ran in", async () => {
    const early = await upload("early.csv", purchaseFile(["7301", "7302"], "Dikemas"));
    const late = await upload("late.csv", purchaseFile(["7302", "7303"], "Pesanan selesai"));
    await importOf([
      { key: early, name: "early.csv" },
      { key: late, name: "late.csv" },
    ]);
    const { db } = await server.runtime.database();
    const rows = await queryRows<{ order_code: string; status: string }>(
      db,
      sql`select order_code, status from purchases where order_code like '730%' order by order_code`,
    );
    expect(rows).toEqual([
      { order_code: "7301", status: "Dikemas" },
      { order_code: "7302", status: "Pesanan selesai" },
      { order_code: "7303", status: "Pesanan selesai" },
    ]);
  });

  it("fails a second file with the same content as an earlier one in the import (at planning, past the create-time hashing)", async () => {
    const bytes = purchaseFile(["7401"]);
    const a = await upload("first.csv", bytes);
    const b = await upload("copy.csv", bytes);
    const status = await importOf([
      { key: a, name: "first.csv" },
      { key: b, name: "copy.csv" },
    ]);
    expect(status.files.map((f) => [f.name, f.status, f.error?.code ?? null])).toEqual([
      ["first.csv", "completed", null],
      ["copy.csv", "failed", "duplicate_file"],
    ]);
    expect(status.files[1]?.error?.message).toMatch(/same content as first\.csv/);
  });

  it("answers 404 on every /api/imports/:id route for a job that is not an import", async () => {
    const { db } = await server.runtime.database();
    const [other] = await queryRows<{ id: string }>(
      db,
      sql`insert into jobs (id, kind, status) values (gen_random_uuid(), 'noop', 'completed_with_errors') returning id`,
    );
    for (const [method, p] of [
      ["GET", `/api/imports/${other?.id}`],
      ["GET", `/api/imports/${other?.id}/errors`],
      ["POST", `/api/imports/${other?.id}/retry`],
    ] as const) {
      expect((await app.api(p, { method })).status, `${method} ${p}`).toBe(404);
    }
  });

  it("answers 401 on every import route without a valid token", async () => {
    const id = "01a20b50-2fda-7c26-9fd2-e18bfae8c10b";
    for (const [method, p] of [
      ["GET", "/api/imports"],
      ["POST", "/api/imports"],
      ["GET", `/api/imports/${id}`],
      ["GET", `/api/imports/${id}/errors`],
      ["POST", `/api/imports/${id}/retry`],
      ["GET", "/api/imports/recommendations?file_count=1&avg_file_size=1"],
      ["POST", "/api/uploads"],
    ] as const) {
      for (const authorization of [undefined, "Bearer wrong-token-0123456789", `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}`]) {
        const response = await fetch(`${app.base}${p}`, {
          method,
          headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
          body: method === "POST" ? JSON.stringify({ type: "blob.generate-client-token", payload: {} }) : undefined,
        });
        expect(response.status, `${method} ${p} ${authorization ?? "(none)"}`).toBe(401);
      }
    }
  });
});
