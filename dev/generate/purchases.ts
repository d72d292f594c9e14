/**
 * Writes the Jakmall purchase files, one after the other, streaming.
 *
 * Files hold log-normal numbers of rows (many of a few thousand, a few of 50,000+
 * at a million rows) and follow the order clock, so each covers a stretch of
 * the year. Real exports are pulled over overlapping date ranges: the last rows of
 * a file (8 % of all rows, spread over the files) are orders that the next file
 * exports again, first thing, with their latest status (an order that was
 * `Dikirim` may now be `Pesanan selesai`). Those repeats are the only orders held
 * in memory besides a small ring of recent orders that within-file
 * `repeated_order` blocks copy.
 *
 * `--rows` counts data records: good, bad and repeated ones; not the header, blank
 * lines, delimiter-only rows, repeated headers or totals lines.
 */
import path from "node:path";
import { type BadDeck, type RowDefect, prepareRejected, rejectedRecord } from "./bad-rows.js";
import { DAY, dayNumber, type OrderClock } from "./calendar.js";
import { type Ledger } from "./ledger.js";
import { earlierStatus, type OrderFactory } from "./orders.js";
import {
  COL,
  type FileStyle,
  fieldValues,
  header,
  headerLine,
  type Order,
  orderTotal,
  PURCHASE_HEADERS,
  type Rendered,
  renderFields,
  STATUS,
  statusClass,
} from "./purchase-format.js";
import { normalQuantile, type Rng } from "./rng.js";
import { type SettlementBook } from "./settlements.js";
import { FileSink } from "./sink.js";
import { type BadCode, type BadRowEntry, type FileEntry } from "./summary-types.js";

/** Share of invoices carried by two supplier orders (a split shipment). */
export const SPLIT_RATE = 0.003;
const MEAN_ROWS_PER_ORDER = 1.2;
const RING = 32;

export interface SkippedLines {
  blank: number;
  delimiterOnly: number;
  repeatedHeader: number;
  totals: number;
}

export interface PurchaseResult {
  files: FileEntry[];
  rows: number;
  badByCode: Record<BadCode, number>;
  skipped: SkippedLines;
  freshOrders: number;
  crossFileRepeats: number;
  splitInvoices: number;
}

export interface PurchaseContext {
  dir: string;
  rows: number;
  badRate: number;
  sizes: number[];
  /** Rows at the end of each file that the next file exports again (planOverlaps). */
  overlaps: number[];
  styles: FileStyle[];
  /** Structure: where bad rows, skippable lines, splits and overlaps go. */
  rng: Rng;
  factory: OrderFactory;
  clock: OrderClock;
  ledger: Ledger;
  deck: BadDeck;
  settlements: SettlementBook | null;
  badRows: FileSink;
}

/**
 * Log-normal file sizes (σ 1.2) summing to exactly `rows`, each at least 1. The normal
 * deviates are stratified (one from each 1/F slice of the distribution, shuffled),
 * so the tail is there in every run: at a million rows in 120 files, a median of
 * ~4,000 rows and two or three files of 50,000+.
 */
export function planFileSizes(rng: Rng, rows: number, files: number): number[] {
  const raw = rng.shuffle(Array.from({ length: files }, (_, i) => Math.exp(1.2 * normalQuantile((i + rng.uniform(0.05, 0.95)) / files))));
  const total = raw.reduce((a, b) => a + b, 0);
  const spare = rows - files; // every file gets 1, the rest by weight
  const shares = raw.map((w) => (w / total) * spare);
  const sizes = shares.map((s) => 1 + Math.floor(s));
  let left = rows - sizes.reduce((a, b) => a + b, 0);
  const order = shares.map((s, i) => [s - Math.floor(s), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % files, left--) {
    const i = (order[k] as readonly [number, number])[1];
    sizes[i] = (sizes[i] as number) + 1;
  }
  return sizes;
}

/** Share of all rows that are re-exports of the previous file's tail. */
export const REPEAT_SHARE = 0.08;

/**
 * How many rows at the end of each file the next file exports again. Overlaps are
 * spread over the file boundaries in proportion to the smaller neighbour (a window
 * cannot overlap more than half of either file), jittered ±40 %, to make about
 * REPEAT_SHARE of all rows repeats whatever the file sizes.
 */
export function planOverlaps(rng: Rng, sizes: number[]): number[] {
  const bounds = sizes.slice(0, -1).map((size, f) => Math.min(size, sizes[f + 1] as number));
  const capacity = bounds.reduce((a, b) => a + b, 0);
  const target = REPEAT_SHARE * sizes.reduce((a, b) => a + b, 0);
  const overlaps = bounds.map((bound) => Math.min(Math.floor(bound / 2), Math.round(((target * bound) / Math.max(1, capacity)) * rng.uniform(0.6, 1.4))));
  return [...overlaps, 0];
}

/**
 * Each quirk goes to a fixed share of the files, dealt at random, with at least one
 * file showing it when there are a few files: 30 % carry the order money on every
 * line (exactly round(0.3 F)), ~40 % CRLF, ~30 % BOM, ~8 % `;`, ~10 % quote everything.
 */
export function planStyles(rng: Rng, files: number): FileStyle[] {
  const pickFiles = (share: number, atLeastOneFrom: number) => {
    const count = Math.max(files >= atLeastOneFrom ? 1 : 0, Math.round(share * files));
    return new Set(rng.shuffle(Array.from({ length: files }, (_, i) => i)).slice(0, count));
  };
  const money = new Set(rng.shuffle(Array.from({ length: files }, (_, i) => i)).slice(0, Math.round(0.3 * files)));
  const semicolon = pickFiles(0.08, 3);
  const crlf = pickFiles(0.4, 2);
  const bom = pickFiles(0.3, 2);
  const quoteAll = pickFiles(0.1, 4);
  const apostropheInvoice = pickFiles(0.3, 2);
  const apostropheCodes = pickFiles(0.15, 3);
  const repeatedHeader = pickFiles(0.2, 2);
  const trailingTotals = pickFiles(0.3, 2);
  const trailingBlank = pickFiles(0.25, 2);
  return Array.from({ length: files }, (_, i) => ({
    delimiter: semicolon.has(i) ? ";" : ",",
    eol: crlf.has(i) ? "\r\n" : "\n",
    bom: bom.has(i),
    moneyOnEveryLine: money.has(i),
    laterMoney: !money.has(i) && rng.chance(0.25) ? "0" : "",
    quoteAll: quoteAll.has(i),
    apostropheInvoice: apostropheInvoice.has(i),
    apostropheCodes: apostropheCodes.has(i),
    repeatedHeader: repeatedHeader.has(i),
    trailingTotals: trailingTotals.has(i),
    trailingBlank: trailingBlank.has(i),
  }));
}

/** One purchase file being written: physical line numbers, the running `No`, the totals line's sums. */
class PurchaseFile {
  line = 1;
  no = 0;
  rows = 0;
  readonly sums = { qty: 0, lineCost: 0, orderTotal: 0, linePrice: 0, margin: 0 };

  constructor(
    readonly sink: FileSink,
    readonly style: FileStyle,
    readonly name: string,
  ) {}

  async header(): Promise<void> {
    if (this.style.bom) await this.sink.write("\uFEFF");
    await this.sink.write(headerLine(this.style));
    this.line = 2;
  }

  /** Writes a record; returns the physical line it starts on. */
  async record(rendered: Rendered): Promise<number> {
    const start = this.line;
    await this.sink.write(rendered.text);
    this.line += rendered.lines;
    this.rows++;
    return start;
  }

  async skippable(text: string): Promise<void> {
    await this.sink.write(text + this.style.eol);
    this.line++;
  }
}

export async function writePurchases(ctx: PurchaseContext): Promise<PurchaseResult> {
  const { rng, factory, ledger, deck, settlements, styles, sizes } = ctx;
  const result: PurchaseResult = {
    files: [],
    rows: 0,
    badByCode: { bad_qty: 0, bad_date: 0, bad_amount: 0, missing_field: 0, field_count: 0, stray_quote: 0, conflicting_order: 0, total_mismatch: 0, repeated_order: 0 },
    skipped: { blank: 0, delimiterOnly: 0, repeatedHeader: 0, totals: 0 },
    freshOrders: 0,
    crossFileRepeats: 0,
    splitInvoices: 0,
  };
  let globalRow = 0;
  let rowsPlanned = 0;
  let badEmitted = 0;
  let pending: Order[] = [];

  const now = () => ctx.clock.timeAt((globalRow + rng.float()) / ctx.rows);

  const bad = async (file: PurchaseFile, line: number, code: BadCode, store: number, column: string | undefined, variant: string) => {
    const entry: BadRowEntry = { file: file.name, line, code, ...(column === undefined ? {} : { column }), variant };
    await ctx.badRows.write(`${JSON.stringify(entry)}\n`);
    result.badByCode[code]++;
    const counts = ledger.stores[store];
    if (counts) counts.badRows++;
    badEmitted++;
  };

  /** Writes every line of `order` with `status`; returns the first line's physical line. */
  const writeOrder = async (file: PurchaseFile, order: Order, status: string, totalOverride?: number): Promise<number> => {
    let first = 0;
    for (let i = 0; i < order.lines.length; i++) {
      const values = fieldValues(order, i, status, file.style, ++file.no, totalOverride);
      const start = await file.record(renderFields(values, file.style));
      if (i === 0) first = start;
      const line = order.lines[i];
      if (line) {
        file.sums.qty += line.qty;
        file.sums.lineCost += line.unitCost * line.qty;
        file.sums.linePrice += line.unitPrice * line.qty;
        file.sums.margin += (line.unitPrice - line.unitCost) * line.qty;
      }
      if (i === 0 || file.style.moneyOnEveryLine) file.sums.orderTotal += totalOverride ?? orderTotal(order);
    }
    globalRow += order.lines.length;
    const counts = ledger.stores[order.store];
    if (counts) counts.rows += order.lines.length;
    return first;
  };

  const land = (order: Order, status: string) => {
    order.slot = ledger.addOrder(
      order.invoiceIndex,
      order.store,
      statusClass(status),
      order.lines.map((l) => ({ cost: l.unitCost * l.qty, price: l.unitPrice * l.qty })),
    );
  };

  for (let f = 0; f < sizes.length; f++) {
    const size = sizes[f] as number;
    const style = styles[f] as FileStyle;
    const name = `jakmall-orders-${String(f + 1).padStart(4, "0")}.csv`;
    const file = new PurchaseFile(new FileSink(path.join(ctx.dir, "purchases", name)), style, name);
    await file.header();

    // The overlap with the previous export comes first, with each order's latest status.
    for (const order of pending) {
      await writeOrder(file, order, order.finalStatus);
      ledger.setStatus(order.slot, statusClass(order.finalStatus));
      result.crossFileRepeats++;
    }
    pending = [];

    const last = f === sizes.length - 1;
    const overlapBudget = ctx.overlaps[f] ?? 0;
    const windowStart = size - overlapBudget;
    let overlapUsed = 0;
    rowsPlanned += size;
    let badLeft = Math.max(0, Math.round(ctx.badRate * rowsPlanned) - badEmitted);
    const repeatedHeaderAt = style.repeatedHeader && size > 2 ? rng.between(1, size - 1) : -1;
    let repeatedHeaderDone = false;
    let unclosedPending = false;
    let unclosedUsed = false;
    const ring: Order[] = [];
    let lastCode = "";

    /** Places one bad row of `defect` here if it fits; false when it cannot go here. */
    const placeBad = async (defect: RowDefect, available: number): Promise<boolean> => {
      switch (defect) {
        case "stray_quote_unclosed":
          // Deferred to the file's last row: nothing after it may hold a quote.
          if (available < 2) return false;
          unclosedPending = true;
          unclosedUsed = true;
          return true;
        case "repeated_order": {
          const at = ring.findIndex((o) => o.code !== lastCode && o.lines.length <= available);
          if (at < 0) return false;
          const order = ring.splice(at, 1)[0] as Order;
          // Pasted exports of two dates: a parcel packed earlier has shipped since.
          const status = order.finalStatus === STATUS.packing ? STATUS.shipping : order.finalStatus;
          order.finalStatus = status;
          const line = await writeOrder(file, order, status);
          ledger.setStatus(order.slot, statusClass(status));
          lastCode = order.code;
          await bad(file, line, "repeated_order", order.store, header(COL.orderCode), "later_block");
          return true;
        }
        case "total_mismatch": {
          const time = now();
          await settlements?.advance(dayNumber(time));
          const order = factory.fresh(time, 1);
          const correct = orderTotal(order);
          let wrong = correct + rng.pick([1000, -500, order.partnerFee, -order.partnerFee, 100]);
          if (wrong === correct || wrong < 0) wrong = correct + 1000;
          settlements?.book([order], statusClass(order.finalStatus));
          land(order, order.finalStatus);
          const line = await writeOrder(file, order, order.finalStatus, wrong);
          lastCode = order.code;
          result.freshOrders++;
          await bad(file, line, "total_mismatch", order.store, header(COL.orderTotal), "order_total");
          return true;
        }
        case "conflicting_order": {
          if (available < 2) return false;
          const time = now();
          await settlements?.advance(dayNumber(time));
          const order = factory.fresh(time, Math.min(available - 1, 2));
          settlements?.book([order], statusClass(order.finalStatus));
          land(order, order.finalStatus);
          await writeOrder(file, order, order.finalStatus);
          result.freshOrders++;
          // One more line, a free gift (cost and price 0, so the order's total is the
          // same with or without it), that names another shop or another invoice.
          const others = factory.stores.map((_, i) => i).filter((i) => i !== order.store);
          const byStore = others.length > 0 && rng.chance(0.5);
          const gift: Order = {
            ...order,
            lines: [...order.lines, { sku: `GIFT-${String(rng.between(1, 99)).padStart(3, "0")}`, name: "Hadiah Gratis Gantungan Kunci", qty: 1, unitCost: 0, unitPrice: 0 }],
          };
          if (byStore) gift.storeText = factory.stores[rng.pick(others)]?.name ?? order.storeText;
          else gift.invoice = factory.invoice(order.store, order.day).invoice;
          const values = fieldValues(gift, gift.lines.length - 1, order.finalStatus, style, ++file.no);
          const line = await file.record(renderFields(values, style));
          globalRow++;
          const counts = ledger.stores[order.store];
          if (counts) counts.rows++;
          lastCode = order.code;
          const column = byStore ? COL.store : COL.invoice;
          await bad(file, line, "conflicting_order", order.store, header(column), byStore ? "other_store" : "other_invoice");
          return true;
        }
        default: {
          // A rejected single-line order of its own.
          const order = factory.fresh(now(), 1);
          const { status, shippedDate } = prepareRejected(defect, order, rng);
          const record = rejectedRecord(defect, order, status, shippedDate, style, ++file.no, rng);
          const line = await file.record(record.rendered);
          globalRow++;
          const counts = ledger.stores[order.store];
          if (counts) counts.rows++;
          lastCode = order.code;
          await bad(file, line, record.code, order.store, record.column, record.variant);
          return true;
        }
      }
    };

    while (file.rows < size) {
      const remaining = size - file.rows;
      if (unclosedPending && remaining === 1) {
        const order = factory.fresh(now(), 1);
        const { status } = prepareRejected("stray_quote_unclosed", order, rng);
        const record = rejectedRecord("stray_quote_unclosed", order, status, false, style, ++file.no, rng);
        const line = await file.record(record.rendered);
        globalRow++;
        const counts = ledger.stores[order.store];
        if (counts) counts.rows++;
        await bad(file, line, record.code, order.store, record.column, record.variant);
        unclosedPending = false;
        lastCode = order.code;
        continue;
      }
      if (!repeatedHeaderDone && repeatedHeaderAt >= 0 && file.rows >= repeatedHeaderAt) {
        // Two exports pasted together: the second one's header, and its numbering restarts.
        repeatedHeaderDone = true;
        await file.skippable(headerLine(style).slice(0, -style.eol.length));
        file.no = 0;
        result.skipped.repeatedHeader++;
      }
      if (rng.chance(0.0015)) {
        await file.skippable("");
        result.skipped.blank++;
      }
      if (rng.chance(0.0005)) {
        await file.skippable(style.delimiter.repeat(PURCHASE_HEADERS.length - 1));
        result.skipped.delimiterOnly++;
      }
      const available = remaining - (unclosedPending ? 1 : 0);

      // A bad row, spread evenly over the file.
      if (badLeft > 0 && rng.float() < badLeft / Math.max(1, available / MEAN_ROWS_PER_ORDER)) {
        let defect: RowDefect = deck.draw();
        if (defect === "stray_quote_unclosed" && (unclosedUsed || unclosedPending)) defect = "stray_quote";
        const placed = await placeBad(defect, available);
        if (placed) {
          badLeft--;
          continue;
        }
        deck.putBack(defect);
      }

      // A fresh order, or the two orders of a split invoice.
      const time = now();
      await settlements?.advance(dayNumber(time));
      const split = available >= 2 && rng.chance(SPLIT_RATE);
      const first = factory.fresh(time, split ? available - 1 : available);
      const orders = [first];
      if (split) {
        // The second shipment is ordered minutes later, the same day (its invoice carries that date).
        const later = Math.min(time + rng.between(60, 1800), (dayNumber(time) + 1) * DAY - 1);
        orders.push(factory.fresh(later, available - first.lines.length, first));
      }
      settlements?.book(orders, statusClass(first.finalStatus));
      settlements?.maybeOrphan(first.day);
      if (split) result.splitInvoices++;
      for (const order of orders) {
        const queue = !last && file.rows >= windowStart && order.lines.length <= overlapBudget - overlapUsed;
        const status = queue ? earlierStatus(rng, order.finalStatus) : order.finalStatus;
        land(order, status);
        await writeOrder(file, order, status);
        result.freshOrders++;
        lastCode = order.code;
        if (queue) {
          pending.push(order);
          overlapUsed += order.lines.length;
        } else if (!split) {
          ring.push(order);
          if (ring.length > RING) ring.shift();
        }
      }
    }

    if (style.trailingBlank) {
      await file.skippable("");
      result.skipped.blank++;
    }
    if (style.trailingTotals) {
      // A spreadsheet's sum row: no order code, SKU or date, so the importer skips it.
      const totals = new Array<string>(PURCHASE_HEADERS.length).fill("");
      totals[COL.no] = "Total";
      totals[COL.qty] = String(file.sums.qty);
      totals[COL.lineCost] = String(file.sums.lineCost);
      totals[COL.orderTotal] = String(file.sums.orderTotal);
      totals[COL.linePrice] = String(file.sums.linePrice);
      totals[COL.lineMargin] = String(file.sums.margin);
      await file.skippable(totals.join(style.delimiter));
      result.skipped.totals++;
    }
    const { bytes, sha256 } = await file.sink.close();
    result.rows += file.rows;
    result.files.push({
      name: `purchases/${name}`,
      file_type: "purchases",
      rows: file.rows,
      lines: file.line - 1,
      bytes,
      sha256,
      style: {
        delimiter: style.delimiter,
        eol: style.eol === "\r\n" ? "CRLF" : "LF",
        bom: style.bom,
        moneyOnEveryLine: style.moneyOnEveryLine,
        laterMoney: style.laterMoney === "" ? "blank" : "0",
        quoteAll: style.quoteAll,
        apostropheInvoice: style.apostropheInvoice,
        apostropheCodes: style.apostropheCodes,
        repeatedHeader: repeatedHeaderDone,
        trailingTotals: style.trailingTotals,
        trailingBlank: style.trailingBlank,
        unclosedQuote: unclosedUsed,
      },
    });

  }
  return result;
}

