/**
 * One Shopee income report ("Laporan Penghasilan") written from its order rows, as
 * the CSV a seller saves from sheet Income ("CSV UTF-8") or as the workbook Shopee
 * hands out. The generator writes its reports through here, and so can a benchmark or
 * a test with rows of its own (deliberately bad values included).
 *
 * CSV: BOM, CRLF, 39 fields on every line: line 1 `Username (Penjual),Dari,ke`, line 2
 * the seller's username and the period, two empty lines, line 5 `total(Rp)` with the
 * column sums, the header on line 6, then one order per line.
 *
 * Workbook (the shape of the real one, shared fixture shopee-income-2025-05.xlsx):
 * sheets Summary, Income, Service Fee Details, Adjustment, Shipping Fee Discrepancy.
 * Income holds the CSV's lines cell for cell on the same row numbers (CSV line N =
 * Excel row N): the two empty lines have no `<row>` element, row 5's sums are
 * `SUM(H7:H<last>)` formulas with the sums as cached values, an empty field has no
 * cell, and in the amount columns (NUMERIC_COLUMNS) a plain decimal (-?digits[.digits])
 * is a number cell (so "12.5" is a number, "abc" or "1e3" a string); every other field,
 * the dates included, is text. The other sheets are small and derived from the rows
 * (no randomness): Summary's totals, each order's service fee in Service Fee Details
 * (its header has "No. Pesanan", not "Total Penghasilan": a near miss for a sheet
 * finder), and a few orders picked by a hash of the order number for Adjustment and
 * Shipping Fee Discrepancy. Only Income's header row has both "No. Pesanan" and
 * "Total Penghasilan".
 */
import { csvField, FileSink, type Written } from "./sink.js";
import { columnName, writeWorkbook, type XlsxCell, type XlsxRow, type XlsxSheet } from "./xlsx.js";

export const SETTLEMENT_HEADERS = [
  "No.",
  "No. Pesanan",
  "No. Pengajuan",
  "Username (Pembeli)",
  "Waktu Pesanan Dibuat",
  "Metode pembayaran pembeli",
  "Tanggal Dana Dilepaskan",
  "Harga Asli Produk",
  "Total Diskon Produk",
  "Jumlah Pengembalian Dana ke Pembeli",
  "Diskon Produk dari Shopee",
  "Diskon Voucher Ditanggung Penjual",
  "Cashback Koin yang Ditanggung Penjual",
  "Ongkir Dibayar Pembeli",
  "Diskon Ongkir Ditanggung Jasa Kirim",
  "Gratis Ongkir dari Shopee",
  "Ongkir yang Diteruskan oleh Shopee ke Jasa Kirim",
  "Ongkos Kirim Pengembalian Barang",
  "Pengembalian Biaya Kirim",
  "Biaya Komisi AMS",
  "Biaya Administrasi",
  "Biaya Layanan (termasuk PPN 11%)",
  "Premi",
  "Biaya Program",
  "Biaya Kartu Kredit",
  "Biaya Kampanye",
  "Bea Masuk, PPN & PPh",
  "Total Penghasilan",
  "Kode Voucher",
  "Kompensasi",
  "Promo Gratis Ongkir dari Penjual",
  "Jasa Kirim",
  "Nama Kurir",
  "",
  "Pengembalian Dana ke Pembeli",
  "Pro-rata Koin yang Ditukarkan untuk Pengembalian Barang",
  "Pro-rata Voucher Shopee untuk Pengembalian Barang",
  "Pro-rated Bank Payment Channel Promotion  for return refund Items",
  "Pro-rated Shopee Payment Channel Promotion  for return refund Items",
] as const;

export const SETTLEMENT_WIDTH = SETTLEMENT_HEADERS.length; // 39
/** The columns whose sums the fixture's `total(Rp)` line shows. */
export const TOTALLED_COLUMNS = [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27, 29, 30, 34, 35, 36, 37, 38];
/** Total Penghasilan (27) = the sum of these. */
export const NET_COLUMNS = [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26];
/** Columns the real workbook holds as numbers: No. and the amounts. */
export const NUMERIC_COLUMNS = [0, ...NET_COLUMNS, 27, 29, 30, 34, 35, 36, 37, 38];
const NUMERIC = new Set(NUMERIC_COLUMNS);

/** One report: the seller's username, the payout period (YYYY-MM-DD) and the order rows, each in SETTLEMENT_HEADERS order ("No." first). */
export interface SettlementReport {
  username: string;
  from: string;
  to: string;
  rows: string[][];
}

/**
 * What the writers read: the rows as often as they need them (a fresh iteration per
 * call), their count, and per column the sum of its numeric fields, known up front
 * because the totals come before the rows.
 */
export interface SettlementSource {
  username: string;
  from: string;
  to: string;
  count: number;
  sums: ArrayLike<number>;
  rows: () => Iterable<string[]>;
}

const EOL = "\r\n";
const PLAIN_DECIMAL = /^-?\d+(\.\d+)?$/;

/** A field that is written as a number cell in an amount column. */
export function numericField(field: string): number | null {
  if (!PLAIN_DECIMAL.test(field)) return null;
  const value = Number(field);
  return Number.isFinite(value) ? value : null;
}

/** A report's rows as a source: sums over the fields that are plain decimals (as Excel's SUM skips text). */
export function settlementSource(report: SettlementReport): SettlementSource {
  const sums = new Float64Array(SETTLEMENT_WIDTH);
  for (const row of report.rows) {
    for (const c of NUMERIC_COLUMNS) {
      const value = numericField(row[c] ?? "");
      if (value !== null) sums[c] = (sums[c] as number) + value;
    }
  }
  return { username: report.username, from: report.from, to: report.to, count: report.rows.length, sums, rows: () => report.rows };
}

// --- CSV ---------------------------------------------------------------------------

function csvLine(fields: readonly string[]): string {
  let line = "";
  for (let c = 0; c < Math.max(SETTLEMENT_WIDTH, fields.length); c++) line += `${c === 0 ? "" : ","}${csvField(fields[c] ?? "", ",", EOL)}`;
  return line + EOL;
}

function totalsFields(sums: ArrayLike<number>): string[] {
  const totals = new Array<string>(SETTLEMENT_WIDTH).fill("");
  totals[0] = "total(Rp)";
  for (const c of TOTALLED_COLUMNS) totals[c] = String(sums[c]);
  return totals;
}

/** The report as "CSV UTF-8" text, in pieces (one per line, the BOM first). */
export function* settlementCsvChunks(source: SettlementSource): Generator<string> {
  yield "\uFEFF";
  yield csvLine(["Username (Penjual)", "Dari", "ke"]);
  yield csvLine([source.username, source.from, source.to]);
  yield csvLine([]);
  yield csvLine([]);
  yield csvLine(totalsFields(source.sums));
  yield csvLine(SETTLEMENT_HEADERS);
  for (const row of source.rows()) yield csvLine(row);
}

/** The report exactly as the generator writes it as CSV. */
export function settlementCsvText(report: SettlementReport): string {
  return [...settlementCsvChunks(settlementSource(report))].join("");
}

/** Streams the report as CSV to `file`. */
export async function writeSettlementCsv(file: string, report: SettlementReport | SettlementSource): Promise<Written> {
  const source = "sums" in report ? report : settlementSource(report);
  const sink = new FileSink(file);
  for (const chunk of settlementCsvChunks(source)) await sink.write(chunk);
  return sink.close();
}

// --- Workbook ----------------------------------------------------------------------

const text = (field: string | undefined): XlsxCell => (field ? field : null);

function incomeCell(field: string | undefined, column: number): XlsxCell {
  if (!field) return null;
  if (NUMERIC.has(column)) {
    const value = numericField(field);
    if (value !== null) return value;
  }
  return field;
}

function* incomeRows(source: SettlementSource): Generator<XlsxRow> {
  yield { row: 1, cells: ["Username (Penjual)", "Dari", "ke"] };
  yield { row: 2, cells: [text(source.username), text(source.from), text(source.to)] };
  const last = Math.max(7, 6 + source.count);
  const totals: XlsxCell[] = ["total(Rp)"];
  for (const c of TOTALLED_COLUMNS) totals[c] = { formula: `SUM(${columnName(c)}7:${columnName(c)}${last})`, value: source.sums[c] as number };
  yield { row: 5, cells: totals };
  yield { row: 6, cells: SETTLEMENT_HEADERS.map(text) };
  let row = 7;
  for (const fields of source.rows()) yield { row: row++, cells: fields.map(incomeCell) };
}

/** 32-bit FNV-1a: picks the few orders of Adjustment and Shipping Fee Discrepancy without randomness. */
function fnv(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) hash = Math.imul(hash ^ value.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

const amountAt = (fields: string[], column: number) => numericField(fields[column] ?? "") ?? 0;
const sumOf = (sums: ArrayLike<number>, columns: number[]) => columns.reduce((total, c) => total + (sums[c] as number), 0);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function dimensionOf(rows: XlsxRow[]): string {
  const lastRow = rows.at(-1)?.row ?? 1;
  const lastColumn = Math.max(1, ...rows.map((r) => r.cells.length));
  return `A1:${columnName(lastColumn - 1)}${lastRow}`;
}

function summaryRows(source: SettlementSource): XlsxRow[] {
  const s = source.sums;
  const label = (c: number) => SETTLEMENT_HEADERS[c] as string;
  const detail = (row: number, c: number): XlsxRow => ({ row, cells: [null, label(c), s[c] as number] });
  const heading = (row: number, title: string, value: number): XlsxRow => ({ row, cells: [title, null, null, value] });
  return [
    { row: 1, cells: ["Laporan Penghasilan"] },
    { row: 3, cells: ["Rincian Laporan"] },
    { row: 4, cells: ["Username (Penjual)", text(source.username)] },
    { row: 5, cells: ["Dari", text(source.from)] },
    { row: 6, cells: ["ke", text(source.to)] },
    { row: 8, cells: ["Ringkasan Penghasilan", null, null, "Rp"] },
    heading(9, "1. Total Pendapatan", sumOf(s, range(7, 12))),
    heading(10, "Subtotal Pesanan", sumOf(s, [7, 8, 9])),
    ...[7, 8, 9].map((c, i) => detail(11 + i, c)),
    heading(15, "Voucher & Subsidi Shopee", sumOf(s, [10, 11, 12])),
    ...[10, 11, 12].map((c, i) => detail(16 + i, c)),
    heading(20, "2. Total Pengeluaran", sumOf(s, range(13, 26))),
    heading(21, "Total Biaya Pengiriman", sumOf(s, range(13, 18))),
    ...range(13, 18).map((c, i) => detail(22 + i, c)),
    heading(29, "Biaya Admin & Layanan", sumOf(s, range(19, 26))),
    ...range(19, 26).map((c, i) => detail(30 + i, c)),
    heading(39, "3. Total yang Dilepas", s[27] as number),
    { row: 41, cells: ["Nilai Lainnya"] },
    heading(42, "Promo Gratis Ongkir dari Penjual", s[30] as number),
  ];
}

function* serviceFeeRows(source: SettlementSource): Generator<XlsxRow> {
  yield { row: 1, cells: [null, null, "Biaya Layanan"] };
  yield { row: 2, cells: ["No.", "No. Pesanan", "Biaya Layanan Gratis Ongkir XTRA", "Biaya Layanan Promo XTRA"] };
  let row = 3;
  for (const fields of source.rows()) {
    const fee = amountAt(fields, 21);
    if (fee === 0) continue;
    const xtra = Math.round(fee * 0.8);
    yield { row, cells: [row - 2, text(fields[1]), xtra, fee - xtra] };
    row++;
  }
}

const ADJUSTMENT_NOTE =
  "Catatan: \n1) Semua penyesuaian yang telah dibayarkan (yang tampil hanya penyesuaian yang dibuat setelah tanggal 1 Jan 2022)\n" +
  "2) Semua penyesuaian pada periode saat ini dapat terhubung dengan pesanan sebelumnya atau yang akan datang, sesuai dengan no. pesanan yang dihubungkan. Klik untuk melihat rincian.";
const DISCREPANCY_NOTE =
  "Catatan: \n1) Sheet ini menunjukkan pesanan dengan Ongkos Kirim yang Dibayarkan ke Jasa Kirim lebih tinggi dari estimasi.\n" +
  "2) Estimasi Ongkos Kirim dihitung setelah checkout dengan mempertimbangkan beberapa aspek seperti berat produk, dan alamat pengiriman.\n" +
  "3) Ongkos Kirim Sebenarnya adalah sejumlah biaya yang dibayar oleh pihak jasa kirim.\n" +
  "4) Penjual dianjurkan untuk mengubah berat produk dan/atau alamat penjemputan jika alasan perbedaan disebabkan oleh perbedaan berat atau alamat.";
const LOGISTICS = "Logistik";
const RETURN_AFTER_PAYOUT = "Pengembalian Barang/Dana setelah Dana Dilepaskan";

interface Adjustment {
  date: string;
  type: string;
  amount: number;
  order: string;
  released: string;
}
interface Discrepancy {
  order: string;
  estimate: number;
  paid: number;
}

/** One pass over the rows for the two small sheets' few orders (they need their totals first). */
function pickExtras(source: SettlementSource): { adjustments: Adjustment[]; discrepancies: Discrepancy[] } {
  const adjustments: Adjustment[] = [];
  const discrepancies: Discrepancy[] = [];
  for (const fields of source.rows()) {
    const order = fields[1] ?? "";
    const hash = fnv(order);
    const released = fields[6] ?? "";
    if (hash % 40 === 3 && adjustments.length < 8) {
      const refund = hash % 3 === 0;
      adjustments.push({
        date: released,
        type: refund ? RETURN_AFTER_PAYOUT : LOGISTICS,
        amount: refund ? -100 * (50 + (hash % 400)) : 100 * (100 + ((hash >>> 8) % 900)),
        order,
        released: refund ? released : "",
      });
    }
    if (hash % 50 === 17 && discrepancies.length < 5) {
      const estimate = Math.abs(amountAt(fields, 16)) || 9000;
      discrepancies.push({ order, estimate, paid: estimate + 100 * (5 + ((hash >>> 8) % 60)) });
    }
  }
  return { adjustments, discrepancies };
}

function adjustmentRows(source: SettlementSource, adjustments: Adjustment[]): XlsxRow[] {
  const total = adjustments.reduce((sum, a) => sum + a.amount, 0);
  const byType = (type: string) => adjustments.filter((a) => a.type === type).reduce((sum, a) => sum + a.amount, 0);
  const rows: XlsxRow[] = [
    { row: 1, cells: [ADJUSTMENT_NOTE] },
    { row: 2, cells: ["Username (Penjual)", text(source.username)] },
    { row: 3, cells: ["Dari", text(source.from), "ke", text(source.to)] },
    { row: 4, cells: ["Rp"] },
    { row: 7, cells: ["Ringkasan Biaya Penyesuaian"] },
    { row: 8, cells: ["Total Penyesuaian", null, null, null, total] },
    { row: 9, cells: [null, LOGISTICS, null, byType(LOGISTICS)] },
    { row: 10, cells: [null, RETURN_AFTER_PAYOUT, null, byType(RETURN_AFTER_PAYOUT)] },
    { row: 11, cells: [null, "Lainnya", null, 0] },
    { row: 14, cells: ["Rincian Transaksi Penyesuaian"] },
    {
      row: 15,
      cells: [
        "No.",
        "Tanggal Penyesuaian Dibuat",
        "Tipe Penyesuaian | Deskripsi",
        "Alasan Penyesuaian",
        "Biaya Penyesuaian",
        "No. Pesanan Terhubung",
        "Tanggal Dana Dilepaskan",
      ],
    },
  ];
  adjustments.forEach((a, i) => rows.push({ row: 16 + i, cells: [i + 1, text(a.date), a.type, null, a.amount, text(a.order), text(a.released)] }));
  rows.push({ row: 17 + adjustments.length, cells: ["Total Biaya", null, null, null, total] });
  return rows;
}

function discrepancyRows(discrepancies: Discrepancy[]): XlsxRow[] {
  return [
    { row: 1, cells: [DISCREPANCY_NOTE] },
    { row: 2, cells: ["No. Pesanan", "Estimasi Ongkos Kirim:", "Ongkos Kirim yang Dibayarkan ke Jasa Kirim:", "Discrepancy reason"] },
    ...discrepancies.map((d, i) => ({
      row: 3 + i,
      cells: [text(d.order), d.estimate, d.paid, "Alasan: Berat/dimensi aktual melebihi informasi berat/dimensi tertulis."],
    })),
  ];
}

/** The workbook's five sheets, in the real report's order (Income second). */
export function settlementSheets(source: SettlementSource): XlsxSheet[] {
  const { adjustments, discrepancies } = pickExtras(source);
  const summary = summaryRows(source);
  const adjustment = adjustmentRows(source, adjustments);
  const discrepancy = discrepancyRows(discrepancies);
  return [
    { name: "Summary", rows: summary, dimension: dimensionOf(summary) },
    { name: "Income", rows: incomeRows(source), dimension: `A1:${columnName(SETTLEMENT_WIDTH - 1)}${6 + source.count}` },
    { name: "Service Fee Details", rows: serviceFeeRows(source) },
    { name: "Adjustment", rows: adjustment, dimension: dimensionOf(adjustment) },
    { name: "Shipping Fee Discrepancy", rows: discrepancy, dimension: dimensionOf(discrepancy) },
  ];
}

/**
 * Writes one settlement report as an .xlsx workbook (streamed: Income's rows go to disk
 * as they are read from `report.rows`). Resolves with the file's size and sha256.
 */
export async function writeSettlementWorkbook(
  file: string,
  report: SettlementReport | SettlementSource,
  options: { sharedStrings?: boolean } = {},
): Promise<Written> {
  const source = "sums" in report ? report : settlementSource(report);
  return writeWorkbook(file, settlementSheets(source), { sharedStrings: options.sharedStrings ?? true });
}
