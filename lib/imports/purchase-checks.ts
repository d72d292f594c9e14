/**
 * The checks of one purchase record, and of a record against its order, each giving
 * the row error's code, column and message (docs/imports.md). The validator runs the
 * record checks in the order of checkRecord: the first problem found rejects the record.
 */
import { recordErrorMessage } from "./csv/messages.js";
import { stripTextGuard } from "./csv/records.js";
import type { PurchaseOrder } from "./model.js";
import type { CsvRecord, PurchaseColumns, PurchaseField, RowProblem } from "./purchase-rows.js";

/** A problem of a record, before it is placed (line, raw text). */
export type RecordProblem = Omit<RowProblem, "line" | "raw">;

/** Rejects the record being validated with `problem`. */
export class RowRejected extends Error {
  constructor(readonly problem: RecordProblem) {
    super(problem.message);
  }
}

/** A record's values once every check of checkRecord passed. */
export interface CheckedRecord {
  orderedAt: Date;
  shippedAt: Date | null;
  qty: number;
  /** Every money field (MONEY), 0 where empty. */
  money: Map<PurchaseField, number>;
}

/** A record's fields by name, as this file's header placed them. */
export interface PurchaseFields {
  /** Columns of the header: every record must have as many fields. */
  count: number;
  /** The field's text, trimmed; "" when the file has no such column. */
  text(record: CsvRecord, field: PurchaseField): string;
  /** The header text the field was found under, as written, for messages and the error's column. */
  header(field: PurchaseField): string;
}

const REQUIRED: PurchaseField[] = ["order_code", "sku", "ordered_at", "invoice"];
/** Money of the whole order, often on its first line only. */
export const ORDER_MONEY: PurchaseField[] = ["other_fee", "partner_fee", "order_total"];
const LINE_MONEY: PurchaseField[] = ["unit_cost", "line_cost", "unit_price", "line_price", "line_margin"];
const MONEY: PurchaseField[] = [...LINE_MONEY, ...ORDER_MONEY];
const MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
const DATE_EXAMPLE = "03 March 2025, 14:05:09";

export function purchaseFields(columns: PurchaseColumns): PurchaseFields {
  return {
    count: columns.header.length,
    text(record, field) {
      const index = columns.index[field];
      return index === undefined ? "" : (record.fields[index] ?? "").trim();
    },
    header(field) {
      const index = columns.index[field];
      return index === undefined ? field : (columns.header[index] ?? field);
    },
  };
}

/** `DD Month YYYY, HH:MM:SS` with an English month, in Asia/Jakarta (UTC+7, no DST). */
export function parseJakmallDate(text: string): Date | null {
  const match = /^(\d{1,2}) ([A-Za-z]+) (\d{4}),? (\d{1,2}):(\d{2}):(\d{2})$/.exec(text.trim());
  if (!match) return null;
  const [, dd, monthName, yyyy, hh, mi, ss] = match;
  const month = MONTHS.indexOf((monthName as string).toLowerCase());
  if (month < 0) return null;
  const [day, year, hour, minute, second] = [dd, yyyy, hh, mi, ss].map(Number) as [number, number, number, number, number];
  if (hour > 23 || minute > 59 || second > 59) return null;
  const utc = Date.UTC(year, month, day, hour - 7, minute, second);
  const check = new Date(utc + 7 * 3600_000);
  // Rejects 31 February and friends instead of rolling them into March.
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month) return null;
  return new Date(utc);
}

/** Whole rupiah. Strict: digits with an optional sign and `.00`; lenient also `Rp 18.500`. */
export function parseAmount(text: string, lenient: boolean): number | null {
  const value = text.trim();
  if (value === "") return 0;
  // ".00" only: "2.000" could mean two thousand (a thousands separator) or two.
  const strict = /^-?\d+(\.0{1,2})?$/.exec(value);
  if (strict) return Number.parseInt(value, 10);
  if (!lenient) return null;
  const loose = /^(-)?\s*(?:Rp\.?\s*)?(\d{1,3}(?:\.\d{3})+|\d+)(?:,0+)?$/i.exec(value);
  if (!loose) return null;
  const digits = (loose[2] as string).replaceAll(".", "");
  return (loose[1] ? -1 : 1) * Number.parseInt(digits, 10);
}

// ── one record ──────────────────────────────────────────────────────────────

/** Every check of a record on its own; RowRejected with the first problem. */
export function checkRecord(record: CsvRecord, fields: PurchaseFields, lenientAmounts: boolean): CheckedRecord {
  checkReadable(record);
  checkFieldCount(record, fields);
  checkRequiredFields(record, fields);
  const orderedAt = requireDate(record, fields, "ordered_at");
  const shippedAt = optionalDate(record, fields, "shipped_at");
  const qty = checkQty(record, fields);
  const money = checkAmounts(record, fields, lenientAmounts);
  return { orderedAt, shippedAt, qty, money };
}

/** The tokenizer's own problem (stray_quote, field_too_long), for a record it could not read cleanly. */
function checkReadable(record: CsvRecord): void {
  if (record.error) {
    throw new RowRejected({ column: null, code: record.error, message: recordErrorMessage(record.error, record) });
  }
}

/** field_count: as many fields as the header has columns. */
function checkFieldCount(record: CsvRecord, fields: PurchaseFields): void {
  if (record.fields.length !== fields.count) {
    throw new RowRejected({
      column: null,
      code: "field_count",
      message: `${record.fields.length} fields where the header has ${fields.count}`,
    });
  }
}

/** missing_field: the first of REQUIRED that is empty. */
function checkRequiredFields(record: CsvRecord, fields: PurchaseFields): void {
  for (const field of REQUIRED) {
    if (stripTextGuard(fields.text(record, field)) === "") {
      throw new RowRejected({ column: fields.header(field), code: "missing_field", message: `${fields.header(field)} is empty` });
    }
  }
}

/** bad_date unless the field is a date as the export writes it. */
function requireDate(record: CsvRecord, fields: PurchaseFields, field: PurchaseField): Date {
  const text = fields.text(record, field);
  const date = parseJakmallDate(text);
  if (!date) {
    throw new RowRejected({
      column: fields.header(field),
      code: "bad_date",
      message: `"${text}" is not a date like "${DATE_EXAMPLE}"`,
    });
  }
  return date;
}

/** Null when empty, else as requireDate. */
function optionalDate(record: CsvRecord, fields: PurchaseFields, field: PurchaseField): Date | null {
  return fields.text(record, field) === "" ? null : requireDate(record, fields, field);
}

/** bad_qty unless the quantity is a whole number above 0. */
function checkQty(record: CsvRecord, fields: PurchaseFields): number {
  const qtyText = fields.text(record, "qty");
  if (!/^\d+$/.test(qtyText) || Number(qtyText) <= 0) {
    throw new RowRejected({
      column: fields.header("qty"),
      code: "bad_qty",
      message: `"${qtyText}" is not a positive whole quantity`,
    });
  }
  return Number(qtyText);
}

/** bad_amount at the first money field that is not an amount (parseAmount). */
function checkAmounts(record: CsvRecord, fields: PurchaseFields, lenient: boolean): Map<PurchaseField, number> {
  const money = new Map<PurchaseField, number>();
  for (const field of MONEY) {
    const value = parseAmount(fields.text(record, field), lenient);
    if (value === null) {
      throw new RowRejected({
        column: fields.header(field),
        code: "bad_amount",
        message: `"${fields.text(record, field)}" is not a plain amount in whole rupiah`,
      });
    }
    money.set(field, value);
  }
  return money;
}

// ── a record against its order ──────────────────────────────────────────────

/** conflicting_order: a line of an order must agree with its first line on where the order was sold. */
export function checkSameOrder(fields: PurchaseFields, order: PurchaseOrder, store: string, invoice: string): void {
  for (const [field, value, expected] of [
    ["store", store.toLowerCase().replace(/\s+/g, " "), order.storeName.toLowerCase().replace(/\s+/g, " ")],
    ["invoice", invoice, order.invoice],
  ] as const) {
    if (value !== expected) {
      throw new RowRejected({
        column: fields.header(field),
        code: "conflicting_order",
        message: `line disagrees with its order's first line on ${fields.header(field)} ("${value}" vs "${expected}")`,
      });
    }
  }
}

/** total_mismatch (a warning): the order's total, when given, is not its lines' cost plus its fees. */
export function totalMismatch(
  fields: PurchaseFields,
  order: PurchaseOrder,
  first: CsvRecord,
  totalGiven: boolean,
): RowProblem | null {
  const expected = order.lines.reduce((sum, line) => sum + line.lineCost, 0) + order.otherFee + order.partnerFee;
  if (!totalGiven || expected === order.orderTotal) return null;
  return {
    line: first.line,
    column: fields.header("order_total"),
    code: "total_mismatch",
    message: `order ${order.orderCode}: total ${order.orderTotal} differs from lines + fees ${expected}`,
    raw: first.raw,
  };
}

/** repeated_order (a warning): the order's code had a block of its own earlier; the later block wins. */
export function repeatedOrder(fields: PurchaseFields, order: PurchaseOrder, first: CsvRecord): RowProblem {
  return {
    line: first.line,
    column: fields.header("order_code"),
    code: "repeated_order",
    message: `order ${order.orderCode} appears again later in the file; the later block wins`,
    raw: first.raw,
  };
}
