/**
 * Workbooks through POST /api/imports end to end (the dev server, its Blob stand-in,
 * real Postgres): the real Shopee income workbook lands exactly as its CSV does; a
 * built workbook's row errors name their sheet and cell; every refusal fails its file
 * alone.
 */
import { readFileSync } from "node:fs";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryRows } from "../../../lib/db/client.js";
import { stores } from "../../../lib/db/schema.js";
import { newImportKey } from "../../../lib/storage/index.js";
import { type AppServer, startAppServer } from "../../support/app-server.js";
import { availablePostgres } from "../../support/databases.js";
import { waitForImport } from "../../support/job-status.js";
import { NEEDS_SHARED_FIXTURES, sharedFixture } from "../../support/shared-fixtures.js";
import { compoundFile, DATE_STYLES, inlineRow, workbookParts, zipOf } from "../../support/workbooks.js";

const workbookPath = sharedFixture("shopee-income-2025-05.xlsx");
const csvPath = sharedFixture("shopee-income-2025-05.csv");
const TOKEN = "import-workbook-test-token-0123456789";
const postgres = availablePostgres();
const XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

interface Status {
  status: string;
  counts: Record<string, number>;
  errors_by_code: Record<string, number>;
  files: Array<{ name: string; status: string; sheet: string | null; error: { code: string; message: string } | null }>;
  first_errors: Array<{ line: number; column: string | null; sheet: string | null; cell: string | null; code: string }>;
}

const SETTLEMENT_COLUMNS = ["order_sn", "ordered_on", "payout_date", "gross_product_price", "product_discount", "buyer_refund", "seller_voucher",
  "ams_commission", "admin_fee", "service_fee", "program_fee", "campaign_fee", "buyer_shipping_fee", "shopee_shipping_subsidy",
  "shipping_forwarded", "seller_shipping_promo", "net_payout", "shipping_service", "courier_name", "content_hash"];

describe.skipIf(!postgres)("workbook imports end to end", () => {
  let app: AppServer;

  beforeAll(async () => {
    app = await startAppServer(TOKEN, {
      DROPFLOW_CHUNK_ROWS: "100",
      DROPFLOW_IMPORT_HASH_BUDGET_BYTES: "0",
      // Small enough for a test's zip bombs, large enough for the real workbook.
      DROPFLOW_XLSX_MAX_PART_MB: "64",
    });
  });
  afterAll(() => app?.close());

  async function upload(name: string, bytes: Buffer): Promise<string> {
    const key = newImportKey(name);
    await app.server.runtime.objectStore().put(key, bytes, { contentType: name.endsWith(".csv") ? "text/csv" : XLSX_TYPE });
    return key;
  }

  async function importFiles(body: Record<string, unknown>, files: Array<{ name: string; bytes: Buffer; sheet?: string }>): Promise<{ id: string; status: Status }> {
    const refs = [];
    for (const file of files) refs.push({ key: await upload(file.name, file.bytes), name: file.name, ...(file.sheet ? { sheet: file.sheet } : {}) });
    const created = await app.api("/api/imports", { method: "POST", body: JSON.stringify({ ...body, files: refs }) });
    expect(created.status).toBe(202);
    const { job_id } = (await created.json()) as { job_id: string };
    return { id: job_id, status: await waitForImport<Status>(app, job_id) };
  }

  async function storeId(name: string): Promise<number> {
    const { db } = await app.server.runtime.database();
    const [row] = await db.insert(stores).values({ name, channel: "Shopee" }).returning({ id: stores.id });
    return (row as { id: number }).id;
  }

  async function settlementsOf(store: number): Promise<Array<Record<string, unknown>>> {
    const { db } = await app.server.runtime.database();
    return queryRows(db, sql`select ${sql.raw(SETTLEMENT_COLUMNS.join(", "))} from settlements where store_id = ${store} order by order_sn`);
  }

  it.skipIf(!workbookPath || !csvPath)(
    "imports the real Shopee workbook as MR eStore Shopee's settlements: 705 orders, no row error, every column equal to the CSV's",
    NEEDS_SHARED_FIXTURES,
    async () => {
      const shop = await storeId("MR eStore Shopee");
      const twin = await storeId("CSV twin");
      const book = await importFiles({ file_type: "settlements", store: "MR eStore Shopee" }, [
        { name: "Income.sudah dilepas.xlsx", bytes: readFileSync(workbookPath as string) },
      ]);
      expect(book.status.status).toBe("completed");
      expect(book.status.errors_by_code).toEqual({});
      expect(book.status.counts).toMatchObject({ rows: 705, row_errors: 0, settlements_inserted: 705 });
      expect(book.status.files[0]).toMatchObject({ status: "completed", sheet: "Income", error: null });

      const csv = await importFiles({ file_type: "settlements", store: "CSV twin" }, [{ name: "income.csv", bytes: readFileSync(csvPath as string) }]);
      expect(csv.status.counts).toMatchObject({ rows: 705, row_errors: 0, settlements_inserted: 705 });
      expect(csv.status.files[0]?.sheet).toBeNull();

      const fromBook = await settlementsOf(shop);
      expect(fromBook).toHaveLength(705);
      expect(fromBook).toEqual(await settlementsOf(twin));
      // The workbook's seller is now linked to the store, as a CSV report's would be.
      const { db } = await app.server.runtime.database();
      const [linked] = await queryRows<{ usernames: string[] }>(db, sql`select marketplace_usernames as usernames from stores where id = ${shop}`);
      expect(linked?.usernames).toContain("mrest0re");

      // The converted CSV goes with the upload (DELETE /api/imports/:id/files, and retention).
      const [file] = await queryRows<{ key: string; converted: string }>(
        db,
        sql`select object_key as key, converted_key as converted from import_files where job_id = ${book.id}`,
      );
      expect(file?.converted).toBe(`imports/converted/${book.id}/${(await queryRows<{ id: string }>(db, sql`select id from import_files where job_id = ${book.id}`))[0]?.id}.csv`);
      const objects = app.server.runtime.objectStore();
      expect(await objects.head(file?.converted as string)).not.toBeNull();
      expect((await app.api(`/api/imports/${book.id}/files`, { method: "DELETE" })).status).toBe(200);
      expect(await objects.head(file?.key as string)).toBeNull();
      expect(await objects.head(file?.converted as string)).toBeNull();
    },
  );

  it("reads cells as Excel shows them and names the sheet and cell of each row error, in JSON and CSV", async () => {
    await storeId("Cells store");
    const header = ["No. Pesanan", "Waktu Pesanan Dibuat", "Harga Asli Produk", "Jumlah Pengembalian Dana ke Pembeli", "Total Penghasilan", "Nama Kurir"];
    const rows = [
      inlineRow(1, ["Username (Penjual)"]),
      inlineRow(2, ["cellshop"]),
      // Row 3 has no <row> at all: a sparse sheet.
      inlineRow(4, header),
      // A date serial with a date format, money written 4.02255E7, a formula's cached value.
      '<row r="5"><c r="A5" t="inlineStr"><is><t>SN1</t></is></c><c r="B5" s="1"><v>45778</v></c><c r="C5"><v>4.02255E7</v></c><c r="D5"><v>0</v></c><c r="E5"><f>C5-D5</f><v>40225500</v></c><c r="F5" t="inlineStr"><is><t>SPX</t></is></c></row>',
      // A courier name with a line break: the CSV record spans two lines, Excel's rows do not.
      '<row r="6"><c r="A6" t="inlineStr"><is><t>SN2</t></is></c><c r="B6" t="inlineStr"><is><t>2025-05-02</t></is></c><c r="C6"><v>1000</v></c><c r="D6"><v>0</v></c><c r="E6"><v>1000</v></c><c r="F6" t="inlineStr"><is><t>SPX\nStandard</t></is></c></row>',
      // A fraction of a rupiah: a row error at C7.
      '<row r="7"><c r="A7" t="inlineStr"><is><t>SN3</t></is></c><c r="B7" s="2"><v>45779</v></c><c r="C7"><v>12.5</v></c><c r="E7"><v>12</v></c></row>',
      // Not a date: a row error at B8; a boolean elsewhere reads TRUE.
      '<row r="8"><c r="A8" t="inlineStr"><is><t>SN4</t></is></c><c r="B8" t="inlineStr"><is><t>32/05/2025</t></is></c><c r="C8"><v>5</v></c><c r="E8"><v>5</v></c><c r="F8" t="b"><v>1</v></c></row>',
    ];
    const book = await zipOf(
      workbookParts(
        [
          { name: "Notes", xml: inlineRow(1, ["No. Pesanan", "Biaya Layanan"]) },
          { name: "Data", xml: rows.join("") },
        ],
        { styles: DATE_STYLES },
      ),
    );
    const { id, status } = await importFiles({ file_type: "settlements", store: "Cells store" }, [{ name: "cells.xlsx", bytes: book }]);
    expect(status.status).toBe("completed_with_errors");
    expect(status.files[0]).toMatchObject({ sheet: "Data", status: "completed_with_errors" });
    expect(status.counts).toMatchObject({ rows: 4, row_errors: 2, settlements_inserted: 2 });
    expect(status.first_errors.map((e) => [e.line, e.sheet, e.cell, e.code])).toEqual([
      [7, "Data", "Data!C7", "bad_amount"],
      [8, "Data", "Data!B8", "bad_date"],
    ]);
    const { db } = await app.server.runtime.database();
    const landed = await queryRows<{ order_sn: string; ordered_on: string; gross: string; net: string; courier: string }>(
      db,
      sql`select order_sn, ordered_on::text, gross_product_price::text as gross, net_payout::text as net, courier_name as courier
          from settlements s join stores t on t.id = s.store_id where t.name = 'Cells store' order by order_sn`,
    );
    expect(landed).toEqual([
      { order_sn: "SN1", ordered_on: "2025-05-01", gross: "40225500", net: "40225500", courier: "SPX" },
      { order_sn: "SN2", ordered_on: "2025-05-02", gross: "1000", net: "1000", courier: "SPX\nStandard" },
    ]);
    const download = await app.api(`/api/imports/${id}/errors?format=csv`);
    const lines = (await download.text()).replace(/^\uFEFF/, "").trim().split("\r\n");
    expect(lines[0]).toBe("file,line,column,code,message,raw,sheet,cell");
    expect(lines[1]).toMatch(/^cells\.xlsx,7,Harga Asli Produk,bad_amount,.*,Data,Data!C7$/);
    expect(lines[2]).toMatch(/^cells\.xlsx,8,Waktu Pesanan Dibuat,bad_date,.*,Data,Data!B8$/);
  });

  it("takes a purchase export as a workbook in a multipart request, from the sheet named by `sheet`, dates shown as Jakarta wall-clock time", async () => {
    const header = ["No", "Waktu Pesanan Terbuat", "Kode Pesanan", "SKU", "Qty", "Kode Invoice Channel", "Nama Toko", "Jenis Channel", "Harga Produk Channel", "Total Harga Produk Channel"];
    const order = (row: number, code: string, serial: number, qty: string) =>
      `<row r="${row}"><c r="A${row}"><v>${row - 1}</v></c><c r="B${row}" s="2"><v>${serial}</v></c>` +
      `<c r="C${row}" t="inlineStr"><is><t>${code}</t></is></c><c r="D${row}" t="inlineStr"><is><t>SKU-1</t></is></c>` +
      `<c r="E${row}"><v>${qty}</v></c><c r="F${row}" t="inlineStr"><is><t>INV-${code}</t></is></c>` +
      `<c r="G${row}" t="inlineStr"><is><t>Workbook Shop</t></is></c><c r="H${row}" t="inlineStr"><is><t>Shopee</t></is></c>` +
      `<c r="I${row}"><v>25000</v></c><c r="J${row}"><f>I${row}*E${row}</f><v>${25000 * Number(qty)}</v></c></row>`;
    // Both sheets have the export's header: without `sheet` the workbook would be ambiguous.
    const orders = inlineRow(1, header) + order(2, "WB-1", 45719.5875, "2") + order(3, "WB-2", 45720.25, "1.5");
    const book = await zipOf(
      workbookParts(
        [
          { name: "Maret", xml: orders },
          { name: "Copy of Maret", xml: orders },
        ],
        { styles: DATE_STYLES },
      ),
    );
    const form = new FormData();
    form.append("file_type", "purchases");
    form.append("sheet", "Maret");
    form.append("files", new Blob([book], { type: XLSX_TYPE }), "orders.xlsx");
    // fetch sets the multipart content type itself (app.api would say JSON).
    const created = await fetch(`${app.base}/api/imports`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: form });
    expect(created.status, await created.clone().text()).toBe(202);
    const { job_id } = (await created.json()) as { job_id: string };
    const status = await waitForImport<Status>(app, job_id);
    expect(status.files[0]).toMatchObject({ name: "orders.xlsx", sheet: "Maret", status: "completed_with_errors" });
    expect(status.counts).toMatchObject({ rows: 2, row_errors: 1, orders_inserted: 1 });
    expect(status.first_errors).toEqual([expect.objectContaining({ line: 3, sheet: "Maret", cell: "Maret!E3", code: "bad_qty" })]);
    const { db } = await app.server.runtime.database();
    const [landed] = await queryRows<{ ordered_at: string }>(
      db,
      sql`select to_char(ordered_at at time zone 'Asia/Jakarta', 'YYYY-MM-DD HH24:MI:SS') as ordered_at from purchases where order_code = 'WB-1'`,
    );
    expect(landed?.ordered_at).toBe("2025-03-03 14:06:00");
  });

  it.skipIf(!csvPath)("fails each refused workbook alone, with a message that says why; the good file imports", NEEDS_SHARED_FIXTURES, async () => {
    await storeId("Refusals store");
    const settlementHeader = inlineRow(1, ["No. Pesanan", "Waktu Pesanan Dibuat", "Harga Asli Produk", "Jumlah Pengembalian Dana ke Pembeli", "Total Penghasilan"]);
    const ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"';
    const doctype = `<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><worksheet ${ns}><sheetData>${inlineRow(1, ["&lol2;"])}</sheetData></worksheet>`;
    // 30 MB of empty rows deflate about a thousand times: past the ratio limit before inflating.
    const bomb = await zipOf(workbookParts([{ name: "Income", xml: settlementHeader + "<row/>".repeat(5_000_000) }]));
    const liar = lyingSizes(await zipOf(workbookParts([{ name: "Income", xml: settlementHeader + "<row/>".repeat(300_000) }])), "xl/worksheets/sheet1.xml");
    const files = [
      { name: "good.csv", bytes: readFileSync(csvPath as string) },
      { name: "encrypted.xlsx", bytes: compoundFile(["EncryptionInfo", "EncryptedPackage"]) },
      { name: "old.xls", bytes: compoundFile(["Workbook", "\u0005SummaryInformation"]) },
      { name: "photos.zip", bytes: await zipOf([["photo.txt", "not a workbook"]]) },
      { name: "bomb.xlsx", bytes: bomb },
      { name: "liar.xlsx", bytes: liar },
      { name: "doctype.xlsx", bytes: await zipOf(workbookParts([{ name: "Income", xml: doctype }])) },
      { name: "none.xlsx", bytes: await zipOf(workbookParts([{ name: "Summary", xml: inlineRow(1, ["Total", "1"]) }, { name: "Fees", xml: inlineRow(1, ["No. Pesanan", "Biaya"]) }])) },
      { name: "two.xlsx", bytes: await zipOf(workbookParts([{ name: "May", xml: settlementHeader }, { name: "June", xml: settlementHeader }])) },
      { name: "named.xlsx", bytes: await zipOf(workbookParts([{ name: "Income", xml: settlementHeader }])), sheet: "Penghasilan" },
      { name: "notes.xlsx", bytes: await zipOf(workbookParts([{ name: "Notes", xml: inlineRow(1, ["a note"]) + inlineRow(2, ["No. Pesanan", "Total Penghasilan"]) }])), sheet: "Notes" },
      { name: "truncated.xlsx", bytes: (await zipOf(workbookParts([{ name: "Income", xml: settlementHeader }]))).subarray(0, 300) },
    ];
    const { status } = await importFiles({ file_type: "settlements", store: "Refusals store" }, files);
    expect(status.status).toBe("completed_with_errors");
    const byName = Object.fromEntries(status.files.map((file) => [file.name, file]));
    expect(byName["good.csv"]).toMatchObject({ status: "completed", error: null });
    expect(status.counts).toMatchObject({ rows: 705, row_errors: 0 });
    const refused = (name: string) => byName[name]?.error;
    expect(refused("encrypted.xlsx")).toMatchObject({ code: "encrypted_workbook", message: expect.stringMatching(/password-protected/) });
    expect(refused("old.xls")).toMatchObject({ code: "old_excel_workbook", message: expect.stringMatching(/Excel 97-2003.*\.xlsx/) });
    expect(refused("photos.zip")).toMatchObject({ code: "not_a_workbook", message: expect.stringMatching(/no xl\/workbook\.xml/) });
    expect(refused("bomb.xlsx")).toMatchObject({ code: "workbook_too_large", message: expect.stringMatching(/inflates \d+ times .*DROPFLOW_XLSX_MAX_RATIO/) });
    expect(refused("liar.xlsx")).toMatchObject({ code: "workbook_too_large", message: expect.stringMatching(/past the size its zip header declares/) });
    expect(refused("doctype.xlsx")).toMatchObject({ code: "bad_workbook_xml", message: expect.stringMatching(/DOCTYPE/) });
    expect(refused("none.xlsx")).toMatchObject({
      code: "no_matching_sheet",
      message: expect.stringMatching(/"Summary" has none of its columns.*"Fees" lacks "Waktu Pesanan Dibuat".*"Total Penghasilan"/),
    });
    expect(refused("two.xlsx")).toMatchObject({ code: "ambiguous_sheet", message: expect.stringMatching(/"May", "June".*`sheet`/) });
    expect(refused("named.xlsx")).toMatchObject({ code: "sheet_not_found", message: expect.stringMatching(/no sheet "Penghasilan".*"Income"/) });
    expect(refused("truncated.xlsx")).toMatchObject({ code: "not_a_workbook" });
    // A named sheet is imported whatever its header: the CSV's own refusal, said of the sheet.
    expect(refused("notes.xlsx")).toMatchObject({ code: "unknown_header", message: expect.stringMatching(/^Sheet "Notes": The header on row 2 lacks required columns "Waktu Pesanan Dibuat"/) });
    for (const file of status.files.filter((f) => f.name !== "good.csv")) expect(file.status).toBe("failed");
  });
});

/** The zip with `part`'s declared uncompressed size patched down to 1,000 bytes, in its local and central headers. */
function lyingSizes(zip: Buffer, part: string): Buffer {
  const out = Buffer.from(zip);
  for (let at = 0; at + 46 < out.length; at++) {
    const signature = out.readUInt32LE(at);
    if (signature === 0x04034b50 && out.toString("utf8", at + 30, at + 30 + out.readUInt16LE(at + 26)) === part) out.writeUInt32LE(1000, at + 22);
    if (signature === 0x02014b50 && out.toString("utf8", at + 46, at + 46 + out.readUInt16LE(at + 28)) === part) out.writeUInt32LE(1000, at + 24);
  }
  return out;
}
