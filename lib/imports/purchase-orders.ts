/**
 * Purchase orders from checked records, and the warnings of a whole order
 * (total_mismatch, repeated_order). An order is a run of consecutive rows with one
 * order code; a row with another code ends it even when that row is rejected, exactly
 * where the planner may cut. So a file gives the same orders and warnings whether it is
 * read whole or in chunks.
 */
import { stripTextGuard } from "./csv/records.js";
import type { PurchaseLine, PurchaseOrder } from "./model.js";
import {
  type CheckedRecord,
  checkSameOrder,
  ORDER_MONEY,
  type PurchaseFields,
  repeatedOrder,
  totalMismatch,
} from "./purchase-checks.js";
import type { CsvRecord, PurchaseField, RowProblem, ValidationOptions } from "./purchase-rows.js";

export interface OrderBlocks {
  /** Every record with an order code, rejected or not, marks its block: another code ends the open order. */
  startBlock(code: string): void;
  /** Adds a checked record's line to its order; RowRejected (conflicting_order) when it disagrees with the order. */
  addLine(record: CsvRecord, code: string, checked: CheckedRecord): void;
  /** Ends the open order: the orders with at least one line, and their warnings. */
  finish(): { orders: PurchaseOrder[]; warnings: RowProblem[] };
}

/** The order being read: only its first record is kept, for its warnings' line and raw text. */
interface OpenOrder {
  order: PurchaseOrder;
  first: CsvRecord;
  /** The order-level money fields taken so far (ORDER_MONEY). */
  moneySeen: Set<PurchaseField>;
}

type OrderMoneyKey = "otherFee" | "partnerFee" | "orderTotal";

export function orderBlocks(fields: PurchaseFields, options: ValidationOptions): OrderBlocks {
  const orders: PurchaseOrder[] = [];
  const warnings: RowProblem[] = [];
  const seenCodes = new Set<string>(options.repeatedFromEarlierChunks ?? []);
  let current: OpenOrder | null = null;
  let blockKey: string | null = null;

  const close = () => {
    if (!current) return;
    const { order, first } = current;
    if (order.lines.length > 0) {
      const mismatch = totalMismatch(fields, order, first, current.moneySeen.has("order_total"));
      if (mismatch) warnings.push(mismatch);
      if (seenCodes.has(order.orderCode)) warnings.push(repeatedOrder(fields, order, first));
      orders.push(order);
    }
    current = null;
  };

  return {
    startBlock(code) {
      if (code === blockKey) return;
      close();
      if (blockKey !== null) seenCodes.add(blockKey);
      blockKey = code;
    },

    addLine(record, code, checked) {
      const store = fields.text(record, "store");
      const invoice = stripTextGuard(fields.text(record, "invoice"));
      if (current && current.order.orderCode !== code) close();
      if (current) checkSameOrder(fields, current.order, store, invoice);
      else current = openOrder(fields, options, record, code, checked, { store, invoice });
      takeOrderMoney(fields, current, record, checked.money);
      current.order.lines.push(lineOf(fields, record, current.order.lines.length + 1, checked));
    },

    finish() {
      close();
      return { orders, warnings };
    },
  };
}

/** A new order, from its first record. */
function openOrder(
  fields: PurchaseFields,
  options: ValidationOptions,
  record: CsvRecord,
  code: string,
  checked: CheckedRecord,
  soldAt: { store: string; invoice: string },
): OpenOrder {
  const text = (field: PurchaseField) => fields.text(record, field);
  return {
    first: record,
    moneySeen: new Set(),
    order: {
      orderCode: code,
      transactionCode: stripTextGuard(text("transaction_code")) || null,
      storeName: soldAt.store.trim().replace(/\s+/g, " "),
      channel: text("channel"),
      invoice: soldAt.invoice,
      orderedAt: checked.orderedAt,
      status: text("status"),
      otherFee: 0,
      partnerFee: 0,
      orderTotal: 0,
      createdBy: text("created_by") || null,
      warehouse: text("warehouse") || null,
      courier: text("courier") || null,
      cashless: parseCashless(text("cashless")),
      waybill: stripTextGuard(text("waybill")) || null,
      shippedAt: checked.shippedAt,
      province: text("province") || null,
      city: text("city") || null,
      lines: [],
      rank: { job: options.jobSeq, file: options.filePosition, line: record.line },
    },
  };
}

/** Order-level money is often on the first line only: each is taken from the first line that has it. */
function takeOrderMoney(fields: PurchaseFields, open: OpenOrder, record: CsvRecord, money: Map<PurchaseField, number>): void {
  for (const field of ORDER_MONEY) {
    const value = money.get(field) ?? 0;
    if (!open.moneySeen.has(field) && fields.text(record, field) !== "" && value !== 0) {
      open.moneySeen.add(field);
      const key: OrderMoneyKey = field === "other_fee" ? "otherFee" : field === "partner_fee" ? "partnerFee" : "orderTotal";
      open.order[key] = value;
    }
  }
}

function lineOf(fields: PurchaseFields, record: CsvRecord, lineNo: number, checked: CheckedRecord): PurchaseLine {
  const { money } = checked;
  return {
    lineNo,
    sku: fields.text(record, "sku"),
    productName: fields.text(record, "product_name") || null,
    unitCost: money.get("unit_cost") ?? 0,
    qty: checked.qty,
    lineCost: money.get("line_cost") ?? 0,
    unitPrice: money.get("unit_price") ?? 0,
    linePrice: money.get("line_price") ?? 0,
    lineMargin: money.get("line_margin") ?? 0,
  };
}

function parseCashless(value: string): boolean | null {
  const normal = value.trim().toLowerCase();
  if (normal === "ya" || normal === "yes") return true;
  if (normal === "tidak" || normal === "no") return false;
  return null;
}
