/**
 * Purchase records (already tokenized) -> validated orders and row errors, by the
 * rules of the supplier's order export (codes: docs/imports.md). Pure: no I/O, so a chunk's whole validation is testable
 * with arrays, and the planner and the worker agree on what a record means.
 * The checks of a record are in purchase-checks.ts, the assembly of orders (and their
 * warnings) in purchase-orders.ts; this module holds the format and runs the two.
 */
import { stripTextGuard } from "./csv/records.js";
import type { RecordError } from "./csv/types.js";
import type { PurchaseOrder } from "./model.js";
import { checkRecord, purchaseFields, RowRejected } from "./purchase-checks.js";
import { orderBlocks } from "./purchase-orders.js";

// The parsers of the export's values, with the checks that use them; settlement rows
// read amounts the same way.
export { parseAmount, parseJakmallDate } from "./purchase-checks.js";

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

/**
 * What each row code means (docs/imports.md tells more; docs/api.md's catalogue and the
 * OpenAPI document show these). An error rejects its row; a warning keeps it.
 */
export const ROW_CODE_MEANINGS: Record<RowErrorCode, string> = {
  bad_qty: "Qty is not a positive whole number.",
  bad_date: "A date that does not parse (purchases `03 March 2025 14:05:09`, settlements `2025-05-01`).",
  bad_amount: "An amount that is not a plain whole-rupiah number.",
  missing_field: "A required field is empty.",
  field_count: "The record has another number of fields than the header.",
  stray_quote: "A quote inside an unquoted field, a quoted field not closed properly, or one the file ends inside; reading resumes on the next line.",
  field_too_long: "A quoted field runs past 64 KiB (MAX_QUOTED_FIELD_BYTES) without a closing quote; the message names the lines skipped.",
  conflicting_order: "A line of an order disagrees with the order's first line on the store or the invoice.",
  total_mismatch: "Warning: the order's total is not the sum of its lines and fees.",
  repeated_order: "Warning: an order code appears again later in the file; the later block wins.",
};

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
  const fields = purchaseFields(columns);
  const blocks = orderBlocks(fields, options);
  const errors: RowProblem[] = [];
  let rows = 0;
  // Blank, totals and repeated header lines never get here: the CSV layer's
  // classifyRecord (csv/records.ts), the planner's own rule, has left them out.
  const add = (record: CsvRecord) => {
    rows += 1;
    // A record the tokenizer could not read has no trustworthy key (the planner gives it none).
    const code = record.error ? "" : stripTextGuard(fields.text(record, "order_code"));
    if (code !== "") blocks.startBlock(code);
    try {
      blocks.addLine(record, code, checkRecord(record, fields, options.lenientAmounts));
    } catch (error) {
      if (!(error instanceof RowRejected)) throw error;
      errors.push({ ...error.problem, line: record.line, raw: record.raw });
    }
  };
  return {
    add,
    finish() {
      const { orders, warnings } = blocks.finish();
      return { orders, errors, warnings, rows };
    },
  };
}

/** Validates records one at a time, then says what it found. */
export interface RowValidator<Result> {
  add(record: CsvRecord): void;
  finish(): Result;
}
