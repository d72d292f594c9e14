/**
 * The Jakmall order export: its 27 headers, the per-file quirks a real
 * export shows, the order model, and the rendering of one order line as one CSV
 * record.
 */
import { jakmallDate } from "./calendar.js";
import { csvField } from "./sink.js";

export const PURCHASE_HEADERS = [
  "No",
  "Waktu Pesanan Terbuat",
  "Status Pesanan Terakhir",
  "Kode Pesanan",
  "Kode Transaksi",
  "SKU",
  "Nama Produk",
  "Harga Produk",
  "Qty",
  "Total Harga Produk",
  "Biaya Lainnya",
  "Biaya Mitra Jakmall",
  "Total Transaksi",
  "Harga Produk Channel",
  "Total Harga Produk Channel",
  "Potensi Keuntungan",
  "Dibuat Oleh",
  "Jenis Channel",
  "Nama Toko",
  "Kode Invoice Channel",
  "Gudang Pengiriman",
  "Jenis Ekspedisi",
  "Cashless",
  "Nomor Resi",
  "Waktu Pengiriman",
  "Provinsi",
  "Kota",
] as const;

/** Column positions, named after the importer's fields (PURCHASE_FIELDS in lib/imports/purchase-rows.ts). */
export const COL = {
  no: 0,
  orderedAt: 1,
  status: 2,
  orderCode: 3,
  transactionCode: 4,
  sku: 5,
  productName: 6,
  unitCost: 7,
  qty: 8,
  lineCost: 9,
  otherFee: 10,
  partnerFee: 11,
  orderTotal: 12,
  unitPrice: 13,
  linePrice: 14,
  lineMargin: 15,
  createdBy: 16,
  channel: 17,
  store: 18,
  invoice: 19,
  warehouse: 20,
  courier: 21,
  cashless: 22,
  waybill: 23,
  shippedAt: 24,
  province: 25,
  city: 26,
} as const;

export const header = (index: number): string => PURCHASE_HEADERS[index] as string;

export const STATUS = {
  completed: "Pesanan selesai",
  cancelled: "Pesanan dibatalkan",
  returned: "Pesanan dikembalikan",
  shipping: "Dikirim",
  packing: "Dikemas",
} as const;

/** The reconcile status classes of Status Pesanan Terakhir, as small integers for the typed-array ledger. */
export const StatusClass = { Completed: 0, Cancelled: 1, Returned: 2, InProgress: 3 } as const;
export type StatusClass = (typeof StatusClass)[keyof typeof StatusClass];

export function statusClass(status: string): StatusClass {
  switch (status) {
    case STATUS.completed:
      return StatusClass.Completed;
    case STATUS.cancelled:
      return StatusClass.Cancelled;
    case STATUS.returned:
      return StatusClass.Returned;
    default:
      return StatusClass.InProgress;
  }
}

/** Statuses under which the parcel has left the warehouse: waybill and shipping time are filled. */
const shipped = (status: string) => status === STATUS.completed || status === STATUS.returned || status === STATUS.shipping;

export interface FileStyle {
  delimiter: "," | ";";
  eol: "\r\n" | "\n";
  bom: boolean;
  /** Order money (Biaya Lainnya, Biaya Mitra Jakmall, Total Transaksi) on every line, or on the first only. */
  moneyOnEveryLine: boolean;
  /** What first-line-only files write on the other lines: blank or 0. */
  laterMoney: "" | "0";
  /** Some exporters quote every field. */
  quoteAll: boolean;
  /** A leading `'` (the spreadsheet text guard) on Kode Invoice Channel. */
  apostropheInvoice: boolean;
  /** A leading `'` on the digit codes Kode Pesanan and Kode Transaksi. */
  apostropheCodes: boolean;
  repeatedHeader: boolean;
  trailingTotals: boolean;
  trailingBlank: boolean;
}

export interface OrderLine {
  sku: string;
  name: string;
  qty: number;
  unitCost: number;
  unitPrice: number;
}

export interface Order {
  /** The ledger slot of an order that lands; -1 for a row the importer must reject. */
  slot: number;
  code: string;
  transaction: string;
  store: number;
  /** The shop name as this order's rows spell it. */
  storeText: string;
  invoiceIndex: number;
  invoice: string;
  day: number;
  time: number;
  finalStatus: string;
  lines: OrderLine[];
  otherFee: number;
  partnerFee: number;
  createdBy: string;
  warehouse: string;
  courier: string;
  cashless: string;
  waybill: string;
  shippedAt: number;
  province: string;
  city: string;
}

export const orderCost = (order: Order) => order.lines.reduce((sum, line) => sum + line.unitCost * line.qty, 0);
export const orderTotal = (order: Order) => orderCost(order) + order.otherFee + order.partnerFee;
export const orderPrice = (order: Order) => order.lines.reduce((sum, line) => sum + line.unitPrice * line.qty, 0);

export interface RenderOptions {
  /** Values that replace the rendered field (still quoted as needed). */
  set?: ReadonlyMap<number, string>;
  /** Values written exactly as given, never quoted: for the deliberately broken fields. */
  raw?: ReadonlyMap<number, string>;
  /** Quote only where needed even in a quote-everything file (the broken rows keep later fields quote-free). */
  minimalQuoting?: boolean;
  /** Drop the last field (a truncated record). */
  dropLast?: boolean;
  /** Order money fields (10–12) on this line regardless of the file's style. */
  totalOverride?: number;
}

export interface Rendered {
  text: string;
  /** Physical lines the record spans. */
  lines: number;
}

/** The 27 field values of one order line, before quoting. */
export function fieldValues(order: Order, lineIndex: number, status: string, style: FileStyle, no: number, totalOverride?: number): string[] {
  const line = order.lines[lineIndex];
  if (!line) throw new Error(`order ${order.code} has no line ${lineIndex}`);
  const money = lineIndex === 0 || style.moneyOnEveryLine;
  const lineCost = line.unitCost * line.qty;
  const linePrice = line.unitPrice * line.qty;
  const isShipped = shipped(status);
  const codeGuard = style.apostropheCodes ? "'" : "";
  return [
    String(no),
    jakmallDate(order.time),
    status,
    `${codeGuard}${order.code}`,
    `${codeGuard}${order.transaction}`,
    line.sku,
    line.name,
    String(line.unitCost),
    String(line.qty),
    String(lineCost),
    money ? String(order.otherFee) : style.laterMoney,
    money ? String(order.partnerFee) : style.laterMoney,
    money ? String(totalOverride ?? orderTotal(order)) : style.laterMoney,
    String(line.unitPrice),
    String(linePrice),
    String(linePrice - lineCost),
    order.createdBy,
    "Shopee",
    order.storeText,
    `${style.apostropheInvoice ? "'" : ""}${order.invoice}`,
    order.warehouse,
    order.courier,
    order.cashless,
    isShipped ? order.waybill : "",
    isShipped ? jakmallDate(order.shippedAt) : "",
    order.province,
    order.city,
  ];
}

export function renderFields(values: readonly string[], style: FileStyle, options: RenderOptions = {}): Rendered {
  const quoteAll = style.quoteAll && !options.minimalQuoting;
  let lines = 1;
  const parts: string[] = [];
  const count = options.dropLast ? values.length - 1 : values.length;
  for (let i = 0; i < count; i++) {
    const raw = options.raw?.get(i);
    if (raw !== undefined) {
      parts.push(raw);
      continue;
    }
    const value = options.set?.get(i) ?? (values[i] as string);
    for (let at = value.indexOf("\n"); at !== -1; at = value.indexOf("\n", at + 1)) lines++;
    parts.push(csvField(value, style.delimiter, style.eol, quoteAll));
  }
  return { text: parts.join(style.delimiter) + style.eol, lines };
}

export function renderLine(order: Order, lineIndex: number, status: string, style: FileStyle, no: number, options: RenderOptions = {}): Rendered {
  return renderFields(fieldValues(order, lineIndex, status, style, no, options.totalOverride), style, options);
}

export const headerLine = (style: FileStyle) =>
  PURCHASE_HEADERS.map((h) => csvField(h, style.delimiter, style.eol, style.quoteAll)).join(style.delimiter) + style.eol;
