import { describe, expect, it } from "vitest";
import { PURCHASE_COLUMNS } from "../../lib/imports/csv/headers.js";
import { readChunk } from "../../lib/imports/csv/index.js";
import {
  type CsvRecord,
  PURCHASE_FIELDS,
  type PurchaseColumns,
  parseAmount,
  parseJakmallDate,
  validatePurchaseRecords,
} from "../../lib/imports/purchase-rows.js";

// The 27 columns of the Jakmall export, from the one list the importer maps headers with.
const HEADER: string[] = PURCHASE_COLUMNS.map((column) => column.header);
const columns: PurchaseColumns = {
  header: HEADER,
  index: Object.fromEntries(
    // PURCHASE_FIELDS lists the fields in column order, after the running number.
    PURCHASE_FIELDS.map((field, i) => [field, i + 1]),
  ),
};

let lineNo = 1;
function row(values: Partial<Record<string, string>> = {}): CsvRecord {
  const base: Record<string, string> = {
    "Waktu Pesanan Terbuat": "03 March 2025, 14:05:09",
    "Status Pesanan Terakhir": "Pesanan selesai",
    "Kode Pesanan": "1001",
    "Kode Transaksi": "5001",
    SKU: "SKU-1",
    "Nama Produk": "Kabel",
    "Harga Produk": "25000",
    Qty: "2",
    "Total Harga Produk": "50000",
    "Biaya Lainnya": "0",
    "Biaya Mitra Jakmall": "2000",
    "Total Transaksi": "52000",
    "Harga Produk Channel": "40000",
    "Total Harga Produk Channel": "80000",
    "Potensi Keuntungan": "30000",
    "Dibuat Oleh": "ops",
    "Jenis Channel": "Shopee",
    "Nama Toko": "MR eStore Shopee",
    "Kode Invoice Channel": "'2503038XK2M4QA",
    Cashless: "Ya",
    ...values,
  };
  lineNo += 1;
  const fields = HEADER.map((h, i) => (i === 0 ? String(lineNo) : (base[h] ?? "")));
  return { fields, line: lineNo, raw: fields.join(",") };
}
const options = { jobSeq: 7, filePosition: 2, lenientAmounts: false };

describe("purchase record validation", () => {
  it("builds an order from its lines, money from the first line that has it", () => {
    const result = validatePurchaseRecords(
      [
        row({ "Biaya Mitra Jakmall": "", "Total Transaksi": "" }),
        row({ SKU: "SKU-2", "Biaya Mitra Jakmall": "2000", "Total Transaksi": "102000", "Total Harga Produk": "50000" }),
      ],
      columns,
      options,
    );
    expect(result.errors).toEqual([]);
    expect(result.rows).toBe(2);
    const [order] = result.orders;
    expect(order).toMatchObject({
      orderCode: "1001",
      invoice: "2503038XK2M4QA",
      partnerFee: 2000,
      orderTotal: 102000,
      cashless: true,
      rank: { job: 7, file: 2 },
    });
    expect(order?.orderedAt.toISOString()).toBe("2025-03-03T07:05:09.000Z");
    expect(order?.lines.map((l) => [l.lineNo, l.sku])).toEqual([
      [1, "SKU-1"],
      [2, "SKU-2"],
    ]);
  });

  it.each([
    [{ Qty: "0" }, "bad_qty", "Qty"],
    [{ Qty: "1.5" }, "bad_qty", "Qty"],
    [{ "Waktu Pesanan Terbuat": "31 February 2025, 10:00:00" }, "bad_date", "Waktu Pesanan Terbuat"],
    [{ "Harga Produk": "Rp 18.500" }, "bad_amount", "Harga Produk"],
    [{ SKU: "" }, "missing_field", "SKU"],
    [{ "Kode Invoice Channel": "'" }, "missing_field", "Kode Invoice Channel"],
  ])("rejects %j as %s naming column %s", (values, code, column) => {
    const result = validatePurchaseRecords([row(values)], columns, options);
    expect(result.errors).toEqual([expect.objectContaining({ code, column })]);
    expect(result.orders).toEqual([]);
  });

  it("rejects field_count and stray_quote records as whole-record problems", () => {
    const short = { ...row(), fields: ["1", "2"] };
    const stray = { ...row(), error: "stray_quote" as const };
    const result = validatePurchaseRecords([short, stray], columns, options);
    expect(result.errors.map((e) => [e.code, e.column])).toEqual([
      ["field_count", null],
      ["stray_quote", null],
    ]);
  });

  it("skips blank, delimiter-only, header and totals lines without counting them", async () => {
    // The worker's path: the CSV layer classifies every record, the validator sees data rows.
    const csv = (fields: string[]) => fields.map((f) => (/[",\n]/.test(f) ? `"${f.replaceAll('"', '""')}"` : f)).join(",");
    const totals = row({ "Kode Pesanan": "", SKU: "", "Waktu Pesanan Terbuat": "", "Total Transaksi": "999" });
    const body = Buffer.from(`${["", HEADER.map(() => "").join(","), csv(HEADER), csv(totals.fields), csv(row().fields)].join("\n")}\n`);
    const { records } = await readChunk(body, {
      startByte: 0,
      endByte: body.length,
      firstLine: 2,
      layout: { fileType: "purchases", delimiter: ",", header: HEADER },
    });
    const result = validatePurchaseRecords(records, columns, options);
    expect(result.rows).toBe(1);
    expect(result.errors).toEqual([]);
  });

  it("rejects a line that disagrees with its order on store or invoice, keeping the order", () => {
    const result = validatePurchaseRecords(
      [row(), row({ SKU: "SKU-2", "Nama Toko": "Other Shop" })],
      columns,
      options,
    );
    expect(result.errors).toEqual([expect.objectContaining({ code: "conflicting_order", column: "Nama Toko" })]);
    expect(result.orders[0]?.lines).toHaveLength(1);
  });

  it("warns on a total mismatch and on an order repeated later in the file", () => {
    const result = validatePurchaseRecords(
      [row({ "Total Transaksi": "1" }), row({ "Kode Pesanan": "1002" }), row({ "Kode Pesanan": "1001" })],
      columns,
      options,
    );
    expect(result.warnings.map((w) => w.code).sort()).toEqual(["repeated_order", "total_mismatch"]);
    expect(result.orders).toHaveLength(3); // the later block of 1001 wins at write time (higher rank)
  });

  it("parses amounts strictly, or leniently when asked", () => {
    expect(parseAmount("18500", false)).toBe(18500);
    expect(parseAmount("18500.00", false)).toBe(18500);
    expect(parseAmount("-2000", false)).toBe(-2000);
    expect(parseAmount("18.500", false)).toBeNull();
    expect(parseAmount("2.000", false)).toBeNull(); // two thousand or two? refused, not guessed
    expect(parseAmount("Rp 18.500", true)).toBe(18500);
    expect(parseAmount("1.234.567", true)).toBe(1234567);
    expect(parseJakmallDate("1 January 2025, 00:00:00")?.toISOString()).toBe("2024-12-31T17:00:00.000Z");
    expect(parseJakmallDate("1 Janvier 2025, 00:00:00")).toBeNull();
  });
});
