/**
 * Purchase records (already tokenized) -> validated orders and row errors, by the
 * rules of the supplier's order export (codes: docs/imports.md). Pure: no I/O, so a chunk's whole validation is testable
 * with arrays, and the planner and the worker agree on what a record means.
 */
import { recordErrorMessage } from "./csv/messages.js";
import { stripTextGuard } from "./csv/records.js";
import type { RecordError } from "./csv/types.js";
import type { PurchaseLine, PurchaseOrder } from "./model.js";

/** The fields of the purchase export, in column order. */
export const PURCHASE_FIELDS = [
  "ordered_at",
  "status",
  "order_code",
  "transaction_code",
  "sku",
  "product_name",
  "unit_cost",
  "qty",
  "line_cost",
  "other_fee",
  "partner_fee",
  "order_total",
  "unit_price",
  "line_price",
  "line_margin",
  "created_by",
  "channel",
  "store",
  "invoice",
  "warehouse",
  "courier",
  "cashless",
  "waybill",
  "shipped_at",
  "province",
  "city",
] as const;
export type PurchaseField = (typeof PURCHASE_FIELDS)[number];

export const ROW_ERROR_CODES = [
  "bad_qty",
  "bad_date",
  "bad_amount",
  "missing_field",
  "field_count",
  "stray_quote",
  "field_too_long",
  "conflicting_order",
] as const;
export const WARNING_CODES = ["total_mismatch", "repeated_order"] as const;
export type RowErrorCode = (typeof ROW_ERROR_CODES)[number] | (typeof WARNING_CODES)[number];

export interface RowProblem {
  line: number;
  /** The header text as written in the file; null for a problem of the whole record. */
  column: string | null;
  code: RowErrorCode;
  message: string;
  raw: string;
}

/** One record as the tokenizer gives it. */
export interface CsvRecord {
  fields: string[];
  /** 1-based physical line where the record starts. */
  line: number;
  raw: string;
  /** Set by the tokenizer for a record it could not read cleanly. */
  error?: RecordError;
}

export interface PurchaseColumns {
  /** Header texts as written, by position. */
  header: string[];
  index: Partial<Record<PurchaseField, number>>;
}

export interface ValidationOptions {
  jobSeq: number;
  filePosition: number;
  /** Accept `Rp 18.500` and `18.500` as 18500. */
  lenientAmounts: boolean;
  /** Order codes an earlier chunk of the same file held (from the planner). */
  repeatedFromEarlierChunks?: ReadonlySet<string>;
}

export interface ChunkValidation {
  orders: PurchaseOrder[];
  errors: RowProblem[];
  warnings: RowProblem[];
  /** Data records read (skipped blank, header and totals lines excluded). */
  rows: number;
}

const REQUIRED: PurchaseField[] = ["order_code", "sku", "ordered_at", "invoice"];
const ORDER_MONEY: PurchaseField[] = ["other_fee", "partner_fee", "order_total"];
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

class RowRejected extends Error {
  constructor(readonly problem: Omit<RowProblem, "line" | "raw">) {
    super(problem.message);
  }
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


/** Validates one chunk's records (whole orders: the planner never splits one). */
export function validatePurchaseRecords(
  records: Iterable<CsvRecord>,
  columns: PurchaseColumns,
  options: ValidationOptions,
): ChunkValidation {
  const validator = purchaseValidator(columns, options);
  for (const record of records) validator.add(record);
  return validator.finish();
}

/**
 * The same validation one record at a time, for a worker that streams its chunk: a
 * record is not needed once added (only the first line of the open order is kept,
 * for its warnings' raw text).
 */
export function purchaseValidator(columns: PurchaseColumns, options: ValidationOptions): RowValidator<ChunkValidation> {
  const errors: RowProblem[] = [];
  const warnings: RowProblem[] = [];
  const orders: PurchaseOrder[] = [];
  let rows = 0;
  const text = (record: CsvRecord, field: PurchaseField) => {
    const index = columns.index[field];
    return index === undefined ? "" : (record.fields[index] ?? "").trim();
  };
  const headerOf = (field: PurchaseField) => {
    const index = columns.index[field];
    return index === undefined ? field : (columns.header[index] ?? field);
  };

  let current: { order: PurchaseOrder; first: CsvRecord; moneySeen: Set<PurchaseField> } | null = null;
  const seenCodes = new Set<string>(options.repeatedFromEarlierChunks ?? []);
  const flush = () => {
    if (!current) return;
    const { order, first } = current;
    const expected = order.lines.reduce((sum, line) => sum + line.lineCost, 0) + order.otherFee + order.partnerFee;
    if (order.lines.length > 0 && current.moneySeen.has("order_total") && expected !== order.orderTotal) {
      warnings.push({
        line: first.line,
        column: headerOf("order_total"),
        code: "total_mismatch",
        message: `order ${order.orderCode}: total ${order.orderTotal} differs from lines + fees ${expected}`,
        raw: first.raw,
      });
    }
    if (order.lines.length > 0) {
      if (seenCodes.has(order.orderCode)) {
        warnings.push({
          line: first.line,
          column: headerOf("order_code"),
          code: "repeated_order",
          message: `order ${order.orderCode} appears again later in the file; the later block wins`,
          raw: first.raw,
        });
      }
      orders.push(order);
    }
    current = null;
  };
  // An order is a run of consecutive rows with one order code; a row with another code
  // ends it even when that row is rejected, exactly where the planner may cut. So a
  // file gives the same orders and warnings whether it is read whole or in chunks.
  let blockKey: string | null = null;
  const startBlock = (key: string) => {
    if (key === blockKey) return;
    flush();
    if (blockKey !== null) seenCodes.add(blockKey);
    blockKey = key;
  };

  // Blank, totals and repeated header lines never get here: the CSV layer's
  // classifyRecord (csv/records.ts), the planner's own rule, has left them out.
  const add = (record: CsvRecord) => {
    rows += 1;
    // A record the tokenizer could not read has no trustworthy key (the planner gives it none).
    const key = record.error ? "" : stripTextGuard(text(record, "order_code"));
    if (key !== "") startBlock(key);
    const reject = (problem: Omit<RowProblem, "line" | "raw">) =>
      errors.push({ ...problem, line: record.line, raw: record.raw });
    if (record.error) {
      reject({ column: null, code: record.error, message: recordErrorMessage(record.error, record) });
      return;
    }
    if (record.fields.length !== columns.header.length) {
      reject({
        column: null,
        code: "field_count",
        message: `${record.fields.length} fields where the header has ${columns.header.length}`,
      });
      return;
    }
    try {
      const code = key; // a record that reaches here was read cleanly
      for (const field of REQUIRED) {
        if (stripTextGuard(text(record, field)) === "") {
          throw new RowRejected({ column: headerOf(field), code: "missing_field", message: `${headerOf(field)} is empty` });
        }
      }
      const orderedAt = parseJakmallDate(text(record, "ordered_at"));
      if (!orderedAt) {
        throw new RowRejected({
          column: headerOf("ordered_at"),
          code: "bad_date",
          message: `"${text(record, "ordered_at")}" is not a date like "03 March 2025, 14:05:09"`,
        });
      }
      const shippedText = text(record, "shipped_at");
      const shippedAt = shippedText === "" ? null : parseJakmallDate(shippedText);
      if (shippedText !== "" && !shippedAt) {
        throw new RowRejected({
          column: headerOf("shipped_at"),
          code: "bad_date",
          message: `"${shippedText}" is not a date like "03 March 2025, 14:05:09"`,
        });
      }
      const qtyText = text(record, "qty");
      if (!/^\d+$/.test(qtyText) || Number(qtyText) <= 0) {
        throw new RowRejected({
          column: headerOf("qty"),
          code: "bad_qty",
          message: `"${qtyText}" is not a positive whole quantity`,
        });
      }
      const money = new Map<PurchaseField, number>();
      for (const field of MONEY) {
        const value = parseAmount(text(record, field), options.lenientAmounts);
        if (value === null) {
          throw new RowRejected({
            column: headerOf(field),
            code: "bad_amount",
            message: `"${text(record, field)}" is not a plain amount in whole rupiah`,
          });
        }
        money.set(field, value);
      }
      const store = text(record, "store");
      const invoice = stripTextGuard(text(record, "invoice"));
      if (current && current.order.orderCode !== code) flush();
      if (current) {
        const { order } = current;
        // Lines of one order must agree on where it was sold.
        for (const [field, value, expected] of [
          ["store", store.toLowerCase().replace(/\s+/g, " "), order.storeName.toLowerCase().replace(/\s+/g, " ")],
          ["invoice", invoice, order.invoice],
        ] as const) {
          if (value !== expected) {
            throw new RowRejected({
              column: headerOf(field),
              code: "conflicting_order",
              message: `line disagrees with its order's first line on ${headerOf(field)} ("${value}" vs "${expected}")`,
            });
          }
        }
      } else {
        current = {
          first: record,
          moneySeen: new Set(),
          order: {
            orderCode: code,
            transactionCode: stripTextGuard(text(record, "transaction_code")) || null,
            storeName: store.trim().replace(/\s+/g, " "),
            channel: text(record, "channel"),
            invoice,
            orderedAt,
            status: text(record, "status"),
            otherFee: 0,
            partnerFee: 0,
            orderTotal: 0,
            createdBy: text(record, "created_by") || null,
            warehouse: text(record, "warehouse") || null,
            courier: text(record, "courier") || null,
            cashless: parseCashless(text(record, "cashless")),
            waybill: stripTextGuard(text(record, "waybill")) || null,
            shippedAt,
            province: text(record, "province") || null,
            city: text(record, "city") || null,
            lines: [],
            rank: { job: options.jobSeq, file: options.filePosition, line: record.line },
          },
        };
      }
      const open = current;
      // Order-level money is often on the first line only: take each from the first line that has it.
      for (const field of ORDER_MONEY) {
        const value = money.get(field) ?? 0;
        if (!open.moneySeen.has(field) && text(record, field) !== "" && value !== 0) {
          open.moneySeen.add(field);
          const key = field === "other_fee" ? "otherFee" : field === "partner_fee" ? "partnerFee" : "orderTotal";
          open.order[key] = value;
        }
      }
      const line: PurchaseLine = {
        lineNo: open.order.lines.length + 1,
        sku: text(record, "sku"),
        productName: text(record, "product_name") || null,
        unitCost: money.get("unit_cost") ?? 0,
        qty: Number(qtyText),
        lineCost: money.get("line_cost") ?? 0,
        unitPrice: money.get("unit_price") ?? 0,
        linePrice: money.get("line_price") ?? 0,
        lineMargin: money.get("line_margin") ?? 0,
      };
      open.order.lines.push(line);
    } catch (error) {
      if (!(error instanceof RowRejected)) throw error;
      reject(error.problem);
    }
  };
  return {
    add,
    finish() {
      flush();
      return { orders, errors, warnings, rows };
    },
  };
}

/** Validates records one at a time, then says what it found. */
export interface RowValidator<Result> {
  add(record: CsvRecord): void;
  finish(): Result;
}


function parseCashless(value: string): boolean | null {
  const normal = value.trim().toLowerCase();
  if (normal === "ya" || normal === "yes") return true;
  if (normal === "tidak" || normal === "no") return false;
  return null;
}
