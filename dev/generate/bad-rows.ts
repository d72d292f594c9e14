/**
 * Deliberately bad rows, one defect each, so each triggers exactly one row-error code
 * whatever order an importer checks things in.
 *
 * Rows the importer must reject (bad_qty, bad_date, bad_amount, missing_field,
 * field_count, stray_quote) are single-line orders of their own, with a fresh order
 * code and invoice: rejecting them removes a whole order, so no other order's totals
 * change and no warning follows. Their product names are plain (no delimiter, quote
 * or line break) and the stray-quote and field-count rows quote nothing after the
 * broken field, so the tokenizer has exactly one thing to trip over. The kinds that
 * involve landed orders (conflicting_order, total_mismatch, repeated_order) are
 * built by the purchase writer, which knows the file's orders.
 */
import { jakmallDate } from "./calendar.js";
import { productName } from "./catalogue.js";
import { COL, type FileStyle, header, type Order, orderTotal, renderLine, type Rendered, STATUS } from "./purchase-format.js";
import { type Rng } from "./rng.js";
import { type BadCode } from "./summary-types.js";

export type RowDefect =
  | "bad_qty"
  | "bad_date"
  | "bad_amount"
  | "missing_field"
  | "field_count"
  | "stray_quote"
  | "stray_quote_unclosed"
  | "conflicting_order"
  | "total_mismatch"
  | "repeated_order";

/** Relative frequency of each defect among the bad rows. */
const DECK: ReadonlyArray<readonly [RowDefect, number]> = [
  ["bad_qty", 10],
  ["bad_date", 10],
  ["bad_amount", 10],
  ["missing_field", 10],
  ["field_count", 8],
  ["stray_quote", 6],
  ["stray_quote_unclosed", 3],
  ["conflicting_order", 8],
  ["total_mismatch", 8],
  ["repeated_order", 8],
];

/**
 * Kinds are dealt from a shuffled deck rather than drawn independently, so even a
 * small run shows every defect in its proportion.
 */
export class BadDeck {
  private cards: RowDefect[] = [];
  constructor(private readonly rng: Rng) {}

  draw(): RowDefect {
    if (this.cards.length === 0) {
      for (const [defect, count] of DECK) for (let i = 0; i < count; i++) this.cards.push(defect);
      this.rng.shuffle(this.cards);
    }
    return this.cards.pop() as RowDefect;
  }

  /** A defect that cannot be placed here goes back into the deck at a random depth. */
  putBack(defect: RowDefect): void {
    this.cards.splice(this.rng.int(this.cards.length + 1), 0, defect);
  }
}

export interface BadRecord {
  rendered: Rendered;
  code: BadCode;
  column?: string;
  variant: string;
}

const thousands = (value: number) => String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ".");

/**
 * Prepares a fresh single-line order for a rejected row: a plain product name, qty 1,
 * and a status that leaves the fields after the product name quote-free where that
 * matters.
 */
export function prepareRejected(defect: RowDefect, order: Order, rng: Rng): { status: string; shippedDate: boolean } {
  const line = order.lines[0];
  if (!line) throw new Error("a rejected row needs a line");
  order.lines = [{ ...line, qty: 1, name: productName(rng, true) }];
  if (defect === "stray_quote" || defect === "stray_quote_unclosed" || defect === "field_count") {
    return { status: STATUS.packing, shippedDate: false };
  }
  if (defect === "bad_date" && rng.chance(0.3)) return { status: STATUS.completed, shippedDate: true };
  return { status: order.finalStatus, shippedDate: false };
}

/** Renders the single line of `order` with the defect `defect`. */
export function rejectedRecord(defect: RowDefect, order: Order, status: string, shippedDate: boolean, style: FileStyle, no: number, rng: Rng): BadRecord {
  const line = order.lines[0];
  if (!line) throw new Error("a rejected row needs a line");
  const render = (options: Parameters<typeof renderLine>[5]) => renderLine(order, 0, status, style, no, options);
  switch (defect) {
    case "bad_qty": {
      const [variant, value] = rng.pick([
        ["zero", "0"],
        ["negative", "-1"],
        ["decimal", "1.5"],
        ["word", "dua"],
        ["missing", ""],
      ] as const);
      return { rendered: render({ set: new Map([[COL.qty, value]]) }), code: "bad_qty", column: header(COL.qty), variant };
    }
    case "bad_date": {
      const column = shippedDate ? COL.shippedAt : COL.orderedAt;
      const good = jakmallDate(shippedDate ? order.shippedAt : order.time);
      const d = new Date((shippedDate ? order.shippedAt : order.time) * 1000);
      const [variant, value] = rng.pick([
        ["day_32", `32${good.slice(2)}`],
        ["hour_25", good.replace(/, \d\d:/, ", 25:")],
        ["slashes", `${good.slice(0, 2)}/${String(d.getUTCMonth() + 1).padStart(2, "0")}/${d.getUTCFullYear()} ${good.slice(-8, -3)}`],
        ["text", "Invalid date"],
      ] as const);
      return { rendered: render({ set: new Map([[column, value]]) }), code: "bad_date", column: header(column), variant };
    }
    case "bad_amount": {
      const column = rng.pick([COL.unitCost, COL.lineCost, COL.otherFee, COL.partnerFee, COL.orderTotal, COL.unitPrice, COL.linePrice, COL.lineMargin]);
      const amounts: Record<number, number> = {
        [COL.unitCost]: line.unitCost,
        [COL.lineCost]: line.unitCost,
        [COL.otherFee]: order.otherFee,
        [COL.partnerFee]: order.partnerFee,
        [COL.orderTotal]: orderTotal(order),
        [COL.unitPrice]: line.unitPrice,
        [COL.linePrice]: line.unitPrice,
        [COL.lineMargin]: line.unitPrice - line.unitCost,
      };
      const amount = amounts[column] as number;
      let variant = rng.pick(["rupiah", "thousands", "excel_error"] as const);
      // `2.000` could also be read as 2 with a zero decimal part: only amounts whose
      // last group is not 000 are written in bare thousands notation (`18.500`).
      if (variant === "thousands" && (amount < 1000 || amount % 1000 === 0)) variant = "rupiah";
      const value = variant === "rupiah" ? `Rp ${thousands(amount)}` : variant === "thousands" ? thousands(amount) : "#VALUE!";
      return { rendered: render({ set: new Map([[column, value]]) }), code: "bad_amount", column: header(column), variant };
    }
    case "missing_field": {
      const column = rng.pick([COL.orderCode, COL.sku, COL.orderedAt, COL.invoice]);
      return { rendered: render({ set: new Map([[column, ""]]) }), code: "missing_field", column: header(column), variant: "empty" };
    }
    case "field_count": {
      if (rng.chance(0.5)) {
        // The exporter forgot to quote a product name holding the delimiter.
        const name = `${line.name}${style.delimiter} ${rng.pick(["Hitam", "Putih", "Isi 2"])}`;
        return {
          rendered: render({ raw: new Map([[COL.productName, name]]), minimalQuoting: true }),
          code: "field_count",
          variant: "extra_field",
        };
      }
      return { rendered: render({ dropLast: true }), code: "field_count", variant: "missing_field" };
    }
    case "stray_quote": {
      // An inch mark in an unquoted field.
      const words = line.name.split(" ");
      words.splice(1, 0, `${rng.between(5, 32)}"`);
      return {
        rendered: render({ raw: new Map([[COL.productName, words.join(" ")]]), minimalQuoting: true }),
        code: "stray_quote",
        variant: "quote_in_unquoted_field",
      };
    }
    case "stray_quote_unclosed":
      // Opens a quoted field that never closes: the writer puts this row last in its
      // file, so nothing after it can close the quote and the importer resynchronises
      // at the next physical line.
      return {
        rendered: render({ raw: new Map([[COL.productName, `"${line.name}`]]), minimalQuoting: true }),
        code: "stray_quote",
        variant: "unclosed_quote",
      };
    default:
      throw new Error(`${defect} is not a rejected-row defect`);
  }
}
