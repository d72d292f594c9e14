import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  headerProblem,
  isSettlementHeaderRow,
  mapHeader,
  normalizeHeaderName,
  PURCHASE_COLUMNS,
  planFileChunks,
  readChunk,
  SETTLEMENT_COLUMNS,
  sniffFile,
} from "../../../lib/imports/csv/index.js";
import { NEEDS_SHARED_FIXTURES, sharedFixture } from "../../support/shared-fixtures.js";
import { PURCHASE_HEADER } from "./support.js";

const FIXTURE = sharedFixture("shopee-income-2025-05.csv");

describe("header names", () => {
  it("compare case-, space- and punctuation-insensitively", () => {
    expect(normalizeHeaderName("No. Pesanan")).toBe(normalizeHeaderName(" no_pesanan "));
    expect(normalizeHeaderName("Biaya Layanan (termasuk PPN 11%)")).toBe("biayalayanantermasukppn11");
    expect(normalizeHeaderName("KODE-PESANAN")).toBe(normalizeHeaderName("Kode Pesanan"));
  });

  it("give each alias one field only (the table builds without a clash)", () => {
    const all = (specs: readonly { header: string; aliases: readonly string[] }[]) =>
      specs.flatMap((spec) => [spec.header, ...spec.aliases]).map(normalizeHeaderName);
    for (const names of [all(PURCHASE_COLUMNS), all(SETTLEMENT_COLUMNS)]) expect(new Set(names).size).toBe(names.length);
  });
});

describe("purchase header mapping", () => {
  it("maps Jakmall's 27 columns by name, keeping the header as written", () => {
    const mapping = mapHeader(PURCHASE_HEADER, "purchases");
    expect(mapping.known).toBe(27);
    expect(mapping.missing).toEqual([]);
    expect(mapping.index).toMatchObject({ ordered_at: 1, order_code: 3, sku: 5, qty: 8, other_fee: 10, invoice: 19, city: 26 });
    expect(mapping.header).toEqual(PURCHASE_HEADER);
  });

  it("finds columns in any order, spelt loosely or by alias", () => {
    const header = ["  KODE PESANAN ", "Biaya Tambahan", "sku", "Kuantitas", "waktu_pesanan_terbuat", "Kode Invoice Channel", "Catatan"];
    const mapping = mapHeader(header, "purchases");
    expect(mapping.index).toEqual({ order_code: 0, other_fee: 1, sku: 2, qty: 3, ordered_at: 4, invoice: 5 });
    expect(mapping.unknownColumns).toEqual([6]);
    expect(mapping.header[0]).toBe("  KODE PESANAN ");
    expect(headerProblem(mapping, 1)).toBeNull();
  });

  it("takes the first of two columns for the same field", () => {
    const mapping = mapHeader(["Kode Pesanan", "SKU", "Biaya Lainnya", "Biaya Tambahan"], "purchases");
    expect(mapping.index.other_fee).toBe(2);
    expect(mapping.duplicateColumns).toEqual([3]);
  });

  it("refuses a header with nothing known, listing what it found and what was expected", () => {
    const problem = headerProblem(mapHeader(["Tanggal", "Barang", "Harga Total"], "purchases"), 1);
    expect(problem).toMatchObject({ code: "unknown_header", line: 1 });
    expect(problem?.message).toContain('Found: "Tanggal", "Barang", "Harga Total"');
    expect(problem?.message).toContain('"Kode Pesanan"');
  });

  it("refuses a header missing required columns, naming each with its aliases", () => {
    const problem = headerProblem(mapHeader(["No", "Kode Pesanan", "SKU", "Nama Produk"], "purchases"), 1);
    expect(problem?.code).toBe("unknown_header");
    expect(problem?.message).toMatch(/lacks required columns "Waktu Pesanan Terbuat".*"Qty" \(or "Jumlah".*"Kode Invoice Channel"/);
    expect(problem?.message).toContain('Found: "No", "Kode Pesanan", "SKU", "Nama Produk"');
  });
});

describe("settlement header: the real Shopee income report", () => {
  // Read when the tests run, and only if present: the tests that need it skip otherwise.
  let file: Buffer;
  beforeAll(() => {
    if (FIXTURE) file = readFileSync(FIXTURE);
  });

  it.skipIf(!FIXTURE)("finds the header on line 6 after the preamble, with the quoted and the nameless columns", NEEDS_SHARED_FIXTURES, () => {
    const sniffed = sniffFile(file, { fileType: "settlements", complete: true });
    if (sniffed.status !== "ok") throw new Error(JSON.stringify(sniffed));
    const { layout } = sniffed;
    expect(layout).toMatchObject({ delimiter: ",", headerLine: 6, dataLine: 7 });
    expect(layout.header.header).toHaveLength(39);
    expect(layout.header.header).toContain("Bea Masuk, PPN & PPh");
    expect(layout.header.header[33]).toBe("");
    expect(layout.header.missing).toEqual([]);
    expect(Object.keys(layout.header.index).sort()).toEqual(SETTLEMENT_COLUMNS.map((spec) => spec.field).sort());
    expect(layout.header.index).toMatchObject({ order_sn: 1, ordered_on: 4, gross_product_price: 7, net_payout: 27, courier_name: 32 });
    expect(layout.preamble).toEqual({ username: "mrest0re", periodFrom: "2025-05-01", periodTo: "2025-05-18" });
  });

  it.skipIf(!FIXTURE)("plans and reads its 705 data rows (lines 7-711), the totals line left in the preamble", NEEDS_SHARED_FIXTURES, async () => {
    const plan = await planFileChunks([file], { fileType: "settlements", targetRows: 100 });
    expect(plan.fileError).toBeUndefined();
    expect(plan).toMatchObject({ headerLine: 6, totalRows: 705, skippedRecords: 0, totalBytes: file.length });
    expect(plan.preamble?.username).toBe("mrest0re");
    const records = [];
    for (const chunk of plan.chunks) records.push(...(await readChunk(file.subarray(chunk.startByte, chunk.endByte), chunk)).records);
    expect(records).toHaveLength(705);
    expect(records[0]?.line).toBe(7);
    expect(records[0]?.fields[1]).toBe("250501NC54T6AH");
    expect(records.at(-1)?.line).toBe(711);
    expect(records.at(-1)?.fields[1]).toBe("250516346UCHTG");
    expect(records.every((record) => record.fields.length === 39 && !record.error)).toBe(true);
  });

  it("detects the header row by both names, wherever they are", () => {
    expect(isSettlementHeaderRow(["x", "no pesanan", "TOTAL PENGHASILAN"])).toBe(true);
    expect(isSettlementHeaderRow(["No. Pesanan", "Total"])).toBe(false);
  });

  it.skipIf(!FIXTURE)("refuses a purchase export given as a settlement report, and the other way round", NEEDS_SHARED_FIXTURES, async () => {
    const purchases = new TextEncoder().encode(`${PURCHASE_HEADER.join(",")}\n`);
    const asSettlement = await planFileChunks([purchases], { fileType: "settlements", targetRows: 10 });
    expect(asSettlement.fileError?.code).toBe("unknown_header");
    expect(asSettlement.fileError?.message).toContain('"No. Pesanan" and "Total Penghasilan"');
    const asPurchases = await planFileChunks([file], { fileType: "purchases", targetRows: 10 });
    expect(asPurchases.fileError).toMatchObject({ code: "unknown_header", line: 1 });
  });
});
