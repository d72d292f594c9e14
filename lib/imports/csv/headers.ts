/**
 * Header mapping of the supplier's order export and the marketplace's income report: columns are found by name, never by position,
 * comparing names case-, space- and punctuation-insensitively, with aliases. The
 * alias table below is the one place that knows what a column may be called; it
 * grows with what real files show.
 */
import type { FileError, FileType } from "./types.js";

interface ColumnSpec<F extends string> {
  field: F;
  /** The column's name as the export writes it (used in messages). */
  header: string;
  /** Other names the same column goes by (exports of other versions, locales, hand edits). */
  aliases: readonly string[];
  required: boolean;
}

/** Jakmall's order export, its columns in order (field names as in purchase-rows.ts). */
export const PURCHASE_COLUMNS = [
  { field: "row_no", header: "No", aliases: ["Nomor", "No Urut"], required: false },
  {
    field: "ordered_at",
    header: "Waktu Pesanan Terbuat",
    aliases: ["Waktu Pesanan Dibuat", "Tanggal Pesanan", "Waktu Pesanan", "Tanggal Pesanan Dibuat"],
    required: true,
  },
  { field: "status", header: "Status Pesanan Terakhir", aliases: ["Status Pesanan", "Status"], required: false },
  { field: "order_code", header: "Kode Pesanan", aliases: ["Kode Order", "Order Code"], required: true },
  { field: "transaction_code", header: "Kode Transaksi", aliases: ["Transaction Code"], required: false },
  { field: "sku", header: "SKU", aliases: ["Kode SKU", "SKU Produk"], required: true },
  { field: "product_name", header: "Nama Produk", aliases: ["Nama Barang", "Product Name"], required: false },
  { field: "unit_cost", header: "Harga Produk", aliases: ["Harga Satuan", "Harga Barang"], required: false },
  { field: "qty", header: "Qty", aliases: ["Jumlah", "Kuantitas", "Quantity", "Jumlah Produk", "Jumlah Barang"], required: true },
  { field: "line_cost", header: "Total Harga Produk", aliases: ["Subtotal Produk", "Total Harga Barang"], required: false },
  { field: "other_fee", header: "Biaya Lainnya", aliases: ["Biaya Tambahan", "Biaya Lain", "Biaya Lain-lain"], required: false },
  { field: "partner_fee", header: "Biaya Mitra Jakmall", aliases: ["Biaya Mitra", "Biaya Layanan Mitra"], required: false },
  { field: "order_total", header: "Total Transaksi", aliases: ["Total Pesanan", "Total Pembayaran"], required: false },
  { field: "unit_price", header: "Harga Produk Channel", aliases: ["Harga Jual", "Harga Channel"], required: false },
  { field: "line_price", header: "Total Harga Produk Channel", aliases: ["Total Harga Jual", "Total Harga Channel"], required: false },
  { field: "line_margin", header: "Potensi Keuntungan", aliases: ["Keuntungan", "Margin", "Potensi Profit"], required: false },
  { field: "created_by", header: "Dibuat Oleh", aliases: ["Pembuat Pesanan"], required: false },
  { field: "channel", header: "Jenis Channel", aliases: ["Channel", "Marketplace"], required: false },
  { field: "store", header: "Nama Toko", aliases: ["Toko", "Nama Toko Channel"], required: false },
  {
    field: "invoice",
    header: "Kode Invoice Channel",
    aliases: ["Invoice Channel", "No Invoice Channel", "Nomor Invoice Channel", "Kode Invoice", "No Invoice"],
    required: true,
  },
  { field: "warehouse", header: "Gudang Pengiriman", aliases: ["Gudang", "Gudang Pengirim"], required: false },
  { field: "courier", header: "Jenis Ekspedisi", aliases: ["Ekspedisi", "Kurir", "Jasa Pengiriman"], required: false },
  { field: "cashless", header: "Cashless", aliases: ["Non Tunai"], required: false },
  { field: "waybill", header: "Nomor Resi", aliases: ["No Resi", "Resi", "Nomor Resi Pengiriman"], required: false },
  { field: "shipped_at", header: "Waktu Pengiriman", aliases: ["Tanggal Pengiriman", "Waktu Dikirim"], required: false },
  { field: "province", header: "Provinsi", aliases: ["Propinsi"], required: false },
  { field: "city", header: "Kota", aliases: ["Kota/Kabupaten", "Kabupaten/Kota"], required: false },
] as const satisfies readonly ColumnSpec<string>[];

/**
 * Shopee's income report, "Laporan Penghasilan" saved as CSV (field names as in settlement-rows.ts). Required:
 * the two columns that identify the header row, and what reconcile decides with.
 * Shopee renames columns now and then (PPN went from 11 % to 12 % in 2025), hence the
 * aliases.
 */
export const SETTLEMENT_COLUMNS = [
  { field: "order_sn", header: "No. Pesanan", aliases: ["Nomor Pesanan"], required: true },
  { field: "ordered_on", header: "Waktu Pesanan Dibuat", aliases: ["Tanggal Pesanan Dibuat"], required: true },
  { field: "payout_date", header: "Tanggal Dana Dilepaskan", aliases: ["Tanggal Dana Dilepas"], required: false },
  { field: "gross_product_price", header: "Harga Asli Produk", aliases: [], required: true },
  { field: "product_discount", header: "Total Diskon Produk", aliases: ["Diskon Produk"], required: false },
  {
    field: "buyer_refund",
    header: "Jumlah Pengembalian Dana ke Pembeli",
    aliases: ["Jumlah Pengembalian Dana"],
    required: true,
  },
  { field: "seller_voucher", header: "Diskon Voucher Ditanggung Penjual", aliases: ["Voucher Ditanggung Penjual"], required: false },
  { field: "ams_commission", header: "Biaya Komisi AMS", aliases: ["Komisi AMS"], required: false },
  { field: "admin_fee", header: "Biaya Administrasi", aliases: ["Biaya Admin"], required: false },
  {
    field: "service_fee",
    header: "Biaya Layanan (termasuk PPN 11%)",
    aliases: ["Biaya Layanan (termasuk PPN 12%)", "Biaya Layanan"],
    required: false,
  },
  { field: "program_fee", header: "Biaya Program", aliases: [], required: false },
  { field: "campaign_fee", header: "Biaya Kampanye", aliases: [], required: false },
  { field: "buyer_shipping_fee", header: "Ongkir Dibayar Pembeli", aliases: ["Ongkos Kirim Dibayar Pembeli"], required: false },
  { field: "shopee_shipping_subsidy", header: "Gratis Ongkir dari Shopee", aliases: ["Subsidi Ongkir dari Shopee"], required: false },
  {
    field: "shipping_forwarded",
    header: "Ongkir yang Diteruskan oleh Shopee ke Jasa Kirim",
    aliases: ["Ongkos Kirim yang Diteruskan oleh Shopee ke Jasa Kirim"],
    required: false,
  },
  { field: "seller_shipping_promo", header: "Promo Gratis Ongkir dari Penjual", aliases: [], required: false },
  { field: "net_payout", header: "Total Penghasilan", aliases: ["Total Pendapatan"], required: true },
  { field: "shipping_service", header: "Jasa Kirim", aliases: ["Layanan Pengiriman"], required: false },
  { field: "courier_name", header: "Nama Kurir", aliases: ["Kurir"], required: false },
] as const satisfies readonly ColumnSpec<string>[];

export type PurchaseColumnField = (typeof PURCHASE_COLUMNS)[number]["field"];
export type SettlementColumnField = (typeof SETTLEMENT_COLUMNS)[number]["field"];
export type ColumnField<K extends FileType> = K extends "purchases" ? PurchaseColumnField : SettlementColumnField;

/** Case-, space- and punctuation-insensitive: `No. Pesanan` = `no pesanan` = `NoPesanan`. */
export function normalizeHeaderName(name: string): string {
  return name.normalize("NFKD").toLowerCase().replace(/[^a-z0-9]/g, "");
}

type AnySpec = ColumnSpec<string>;
const specsOf = (fileType: FileType): readonly AnySpec[] => (fileType === "purchases" ? PURCHASE_COLUMNS : SETTLEMENT_COLUMNS);

const lookups = new Map<FileType, Map<string, string>>();
function lookupOf(fileType: FileType): Map<string, string> {
  let lookup = lookups.get(fileType);
  if (!lookup) {
    lookup = new Map();
    for (const spec of specsOf(fileType)) {
      for (const name of [spec.header, ...spec.aliases]) {
        const key = normalizeHeaderName(name);
        const taken = lookup.get(key);
        // A name claimed by two fields would make the mapping depend on table order.
        if (taken !== undefined && taken !== spec.field) throw new Error(`header alias "${name}" names both ${taken} and ${spec.field}`);
        lookup.set(key, spec.field);
      }
    }
    lookups.set(fileType, lookup);
  }
  return lookup;
}

/**
 * Where each field is in a file. `header` and `index` have the shape the row
 * validators take (`PurchaseColumns`, `SettlementColumns`); `header` is the text as
 * written, for row errors' `column`.
 */
export interface HeaderMapping<K extends FileType = FileType> {
  fileType: K;
  header: string[];
  index: Partial<Record<ColumnField<K>, number>>;
  /** How many columns have a known name. */
  known: number;
  /** Required fields with no column, by field name. */
  missing: ColumnField<K>[];
  /** Positions of columns with no known name (ignored; a nameless column is one). */
  unknownColumns: number[];
  /** Positions of columns whose field an earlier column already gave (the first one wins). */
  duplicateColumns: number[];
}

export function mapHeader<K extends FileType>(header: readonly string[], fileType: K): HeaderMapping<K> {
  const lookup = lookupOf(fileType);
  const index: Partial<Record<string, number>> = {};
  const unknownColumns: number[] = [];
  const duplicateColumns: number[] = [];
  let known = 0;
  header.forEach((name, position) => {
    const field = lookup.get(normalizeHeaderName(name));
    if (field === undefined) unknownColumns.push(position);
    else if (index[field] !== undefined) duplicateColumns.push(position);
    else {
      index[field] = position;
      known++;
    }
  });
  const missing = specsOf(fileType)
    .filter((spec) => spec.required && index[spec.field] === undefined)
    .map((spec) => spec.field as ColumnField<K>);
  return {
    fileType,
    header: [...header],
    index: index as Partial<Record<ColumnField<K>, number>>,
    known,
    missing,
    unknownColumns,
    duplicateColumns,
  };
}

export const FILE_TYPE_LABEL: Record<FileType, string> = {
  purchases: "Jakmall order export",
  settlements: "Shopee income report",
};

function quoteList(names: readonly string[], max = 30): string {
  const shown = names.slice(0, max).map((name) => (name.trim() === "" ? "(no name)" : `"${name.trim()}"`));
  return shown.join(", ") + (names.length > max ? `, … (${names.length} in all)` : "");
}

/** The column's name as the export writes it. */
export function canonicalName(fileType: FileType, field: string): string {
  return specsOf(fileType).find((spec) => spec.field === field)?.header ?? field;
}

/** `unknown_header` when nothing is known, or when required columns are missing; else null. */
export function headerProblem(mapping: HeaderMapping, line: number): FileError | null {
  const { fileType } = mapping;
  const required = specsOf(fileType).filter((spec) => spec.required);
  if (mapping.known === 0) {
    return {
      code: "unknown_header",
      line,
      message:
        `Line ${line} is not the header of a ${FILE_TYPE_LABEL[fileType]}: none of its columns is known. ` +
        `Found: ${quoteList(mapping.header)}. Expected columns such as ${quoteList(required.map((spec) => spec.header))}.`,
    };
  }
  if (mapping.missing.length > 0) {
    const missing = mapping.missing.map((field) => {
      const spec = specsOf(fileType).find((s) => s.field === field);
      const also = spec && spec.aliases.length > 0 ? ` (or ${spec.aliases.map((a) => `"${a}"`).join(", ")})` : "";
      return `"${canonicalName(fileType, field)}"${also}`;
    });
    return {
      code: "unknown_header",
      line,
      message:
        `The header on line ${line} lacks required column${missing.length > 1 ? "s" : ""} ${missing.join(", ")}. ` +
        `Found: ${quoteList(mapping.header)}.`,
    };
  }
  return null;
}

function namesOf(fileType: FileType, field: string): Set<string> {
  const spec = specsOf(fileType).find((s) => s.field === field);
  return new Set(spec ? [spec.header, ...spec.aliases].map(normalizeHeaderName) : []);
}

const ORDER_SN_NAMES = namesOf("settlements", "order_sn");
const NET_PAYOUT_NAMES = namesOf("settlements", "net_payout");

/** The settlement header row: the first row holding both `No. Pesanan` and `Total Penghasilan`. */
export function isSettlementHeaderRow(fields: readonly string[]): boolean {
  let orderSn = false;
  let netPayout = false;
  for (const field of fields) {
    const name = normalizeHeaderName(field);
    if (ORDER_SN_NAMES.has(name)) orderSn = true;
    else if (NET_PAYOUT_NAMES.has(name)) netPayout = true;
  }
  return orderSn && netPayout;
}

/** What the income report's preamble says (line 1: labels, line 2: values). */
export interface SettlementPreamble {
  /** The seller's Shopee username (`Username (Penjual)`). */
  username: string | null;
  periodFrom: string | null;
  periodTo: string | null;
}

const PREAMBLE_LABELS = {
  username: new Set(["usernamepenjual", "username", "penjual"]),
  periodFrom: new Set(["dari", "from", "periodedari"]),
  periodTo: new Set(["ke", "sampai", "hingga", "to"]),
} as const;

/** Reads the preamble rows (before the header): each label's value is in the next non-blank row, same column. */
export function readPreamble(rows: readonly (readonly string[])[]): SettlementPreamble {
  const found: SettlementPreamble = { username: null, periodFrom: null, periodTo: null };
  rows.forEach((row, r) => {
    const next = rows.slice(r + 1).find((candidate) => candidate.some((value) => value.trim() !== ""));
    if (!next) return;
    row.forEach((label, column) => {
      const name = normalizeHeaderName(label);
      for (const key of Object.keys(PREAMBLE_LABELS) as (keyof SettlementPreamble)[]) {
        const value = next[column]?.trim() ?? "";
        if (found[key] === null && PREAMBLE_LABELS[key].has(name) && value !== "") found[key] = value;
      }
    });
  });
  return found;
}
