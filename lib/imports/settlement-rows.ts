/**
 * Settlement records (the Shopee income report, "Laporan Penghasilan" saved as CSV) -> validated rows and
 * row errors. Pure, like purchase-rows.ts.
 */
import type { Settlement } from "./model.js";
import { recordErrorMessage } from "./csv/messages.js";
import { stripTextGuard } from "./csv/records.js";
import { type CsvRecord, parseAmount, type RowProblem, type RowValidator } from "./purchase-rows.js";

/** The columns dropflow keeps, in the report's order (SETTLEMENT_COLUMNS in csv/headers.ts). */
export const SETTLEMENT_FIELDS = [
  "order_sn",
  "ordered_on",
  "payout_date",
  "gross_product_price",
  "product_discount",
  "buyer_refund",
  "seller_voucher",
  "ams_commission",
  "admin_fee",
  "service_fee",
  "program_fee",
  "campaign_fee",
  "buyer_shipping_fee",
  "shopee_shipping_subsidy",
  "shipping_forwarded",
  "seller_shipping_promo",
  "net_payout",
  "shipping_service",
  "courier_name",
] as const;
export type SettlementField = (typeof SETTLEMENT_FIELDS)[number];

/** The money columns: field (also the settlements table's column) and the Settlement property. */
export const SETTLEMENT_MONEY: ReadonlyArray<readonly [SettlementField, keyof Settlement]> = [
  ["gross_product_price", "grossProductPrice"],
  ["product_discount", "productDiscount"],
  ["buyer_refund", "buyerRefund"],
  ["seller_voucher", "sellerVoucher"],
  ["ams_commission", "amsCommission"],
  ["admin_fee", "adminFee"],
  ["service_fee", "serviceFee"],
  ["program_fee", "programFee"],
  ["campaign_fee", "campaignFee"],
  ["buyer_shipping_fee", "buyerShippingFee"],
  ["shopee_shipping_subsidy", "shopeeShippingSubsidy"],
  ["shipping_forwarded", "shippingForwarded"],
  ["seller_shipping_promo", "sellerShippingPromo"],
  ["net_payout", "netPayout"],
];

export interface SettlementColumns {
  header: string[];
  index: Partial<Record<SettlementField, number>>;
}

export interface SettlementValidation {
  settlements: Settlement[];
  errors: RowProblem[];
  rows: number;
}

function isoDate(text: string): string | null | undefined {
  const value = text.trim();
  if (value === "") return null;
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return undefined;
  const date = new Date(`${value}T00:00:00Z`);
  return date.getUTCDate() === Number(match[3]) ? value : undefined;
}

/** Where a settlement row comes from: its rank is (job seq, file position, line), as an order's. */
export interface SettlementSource {
  jobSeq: number;
  filePosition: number;
}

/** The same validation one record at a time (a worker streams its chunk). */
export function settlementValidator(columns: SettlementColumns, source: SettlementSource): RowValidator<SettlementValidation> {
  const settlements: Settlement[] = [];
  const errors: RowProblem[] = [];
  let rows = 0;
  const text = (record: CsvRecord, field: SettlementField) => {
    const index = columns.index[field];
    return index === undefined ? "" : (record.fields[index] ?? "").trim();
  };
  const headerOf = (field: SettlementField) => {
    const index = columns.index[field];
    return index === undefined ? field : (columns.header[index] ?? field);
  };

  // Blank and repeated header lines never get here: the CSV layer's classifyRecord
  // (csv/records.ts), the planner's own rule, has left them out.
  const add = (record: CsvRecord) => {
    rows += 1;
    const reject = (column: string | null, code: RowProblem["code"], message: string) =>
      errors.push({ line: record.line, column, code, message, raw: record.raw });
    if (record.error) {
      reject(null, record.error, recordErrorMessage(record.error, record));
      return;
    }
    if (record.fields.length !== columns.header.length) {
      reject(null, "field_count", `${record.fields.length} fields where the header has ${columns.header.length}`);
      return;
    }
    const orderSn = stripTextGuard(text(record, "order_sn"));
    if (orderSn === "") {
      reject(headerOf("order_sn"), "missing_field", `${headerOf("order_sn")} is empty`);
      return;
    }
    const row: Partial<Record<keyof Settlement, unknown>> = {
      orderSn,
      shippingService: text(record, "shipping_service") || null,
      courierName: text(record, "courier_name") || null,
      // The row of an order number repeated in one import that wins: the last file's, its last line.
      rank: { job: source.jobSeq, file: source.filePosition, line: record.line },
    };
    for (const [field, key] of [
      ["ordered_on", "orderedOn"],
      ["payout_date", "payoutDate"],
    ] as const) {
      const value = isoDate(text(record, field));
      if (value === undefined) {
        reject(headerOf(field), "bad_date", `"${text(record, field)}" is not a date like 2025-05-01`);
        return;
      }
      row[key] = value;
    }
    if (text(record, "net_payout") === "") {
      reject(headerOf("net_payout"), "missing_field", `${headerOf("net_payout")} is empty`);
      return;
    }
    for (const [field, key] of SETTLEMENT_MONEY) {
      const value = parseAmount(text(record, field), false);
      if (value === null) {
        reject(headerOf(field), "bad_amount", `"${text(record, field)}" is not a plain amount in whole rupiah`);
        return;
      }
      row[key] = value;
    }
    settlements.push(row as Settlement);
  };
  return { add, finish: () => ({ settlements, errors, rows }) };
}
