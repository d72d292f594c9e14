/**
 * What the generator wrote, kept compactly enough for a million rows: typed arrays
 * indexed by invoice and by landed order (about 40 bytes per order in all), plus
 * per-store counters. From it the expected reconcile outcome of every (store,
 * invoice) is decided at the end by the reconcile rules, the first that applies:
 * orphan_settlement, returned, cancelled, matched, amount_mismatch,
 * missing_settlement, in_progress; tolerance 0.
 *
 * "Landed" means what the importer keeps once it has read every file in name order:
 * the latest written version of each order (a later file, or a later block in the
 * same file, replaces an earlier one), without the rows it must reject. Each order
 * slot records the status class of its latest written version; its lines never
 * change between versions, so their price and margin are booked once.
 */
import { StatusClass } from "./purchase-format.js";

class Growable<T extends Float64Array | Uint32Array | Uint8Array | Int32Array> {
  array: T;
  constructor(
    private readonly make: (size: number) => T,
    capacity: number,
  ) {
    this.array = make(Math.max(16, capacity));
  }
  ensure(index: number): T {
    if (index >= this.array.length) {
      const bigger = this.make(Math.max(index + 1, this.array.length * 2));
      bigger.set(this.array);
      this.array = bigger;
    }
    return this.array;
  }
}

export const OUTCOMES = [
  "orphan_settlement",
  "returned",
  "cancelled",
  "matched",
  "amount_mismatch",
  "missing_settlement",
  "in_progress",
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface StoreCounts {
  rows: number;
  badRows: number;
  orders: number;
  landedLines: number;
  linePrice: number;
  lineCost: number;
  margin: number;
  invoices: number;
  splitInvoices: number;
  settlementRows: number;
  outcomes: Record<Outcome, number>;
  ordersByStatus: Record<"completed" | "cancelled" | "returned" | "in_progress", number>;
}

const SETTLED = 1;
const REFUNDED = 2;

export interface OutcomeRow {
  store: number;
  invoiceCode: number;
  day: number;
  outcome: Outcome;
  expected: number | null;
  actual: number | null;
  splitInvoice: boolean;
}

export class Ledger {
  private invoiceCount = 0;
  private orderCount = 0;
  private readonly invoiceStore: Growable<Uint8Array>;
  private readonly invoiceDay: Growable<Int32Array>;
  private readonly invoiceCode: Growable<Float64Array>;
  private readonly settlement: Growable<Uint8Array>;
  private readonly settledPrice: Growable<Float64Array>;
  private readonly orderInvoice: Growable<Uint32Array>;
  private readonly orderStatus: Growable<Uint8Array>;
  private readonly orderPrice: Growable<Float64Array>;
  readonly stores: StoreCounts[];

  constructor(storeCount: number, expectedRows: number) {
    const invoices = Math.ceil(expectedRows * 1.05) + 64;
    this.invoiceStore = new Growable((n) => new Uint8Array(n), invoices);
    this.invoiceDay = new Growable((n) => new Int32Array(n), invoices);
    this.invoiceCode = new Growable((n) => new Float64Array(n), invoices);
    this.settlement = new Growable((n) => new Uint8Array(n), invoices);
    this.settledPrice = new Growable((n) => new Float64Array(n), invoices);
    this.orderInvoice = new Growable((n) => new Uint32Array(n), expectedRows);
    this.orderStatus = new Growable((n) => new Uint8Array(n), expectedRows);
    this.orderPrice = new Growable((n) => new Float64Array(n), expectedRows);
    this.stores = Array.from({ length: storeCount }, () => ({
      rows: 0,
      badRows: 0,
      orders: 0,
      landedLines: 0,
      linePrice: 0,
      lineCost: 0,
      margin: 0,
      invoices: 0,
      splitInvoices: 0,
      settlementRows: 0,
      outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>,
      ordersByStatus: { completed: 0, cancelled: 0, returned: 0, in_progress: 0 },
    }));
  }

  /**
   * Registers an invoice (of a purchase, an orphan settlement, or a row that will be
   * rejected). `code` is the number its 8-character suffix is made from.
   */
  newInvoice(store: number, day: number, code: number): number {
    const index = this.invoiceCount++;
    this.invoiceStore.ensure(index)[index] = store;
    this.invoiceDay.ensure(index)[index] = day;
    this.invoiceCode.ensure(index)[index] = code;
    this.settlement.ensure(index);
    this.settledPrice.ensure(index);
    return index;
  }

  /** A supplier order that lands; returns its slot. */
  addOrder(invoice: number, store: number, status: StatusClass, lines: { cost: number; price: number }[]): number {
    const slot = this.orderCount++;
    const price = lines.reduce((sum, line) => sum + line.price, 0);
    const cost = lines.reduce((sum, line) => sum + line.cost, 0);
    this.orderInvoice.ensure(slot)[slot] = invoice;
    this.orderStatus.ensure(slot)[slot] = status;
    this.orderPrice.ensure(slot)[slot] = price;
    const counts = this.stores[store] as StoreCounts;
    counts.orders++;
    counts.landedLines += lines.length;
    counts.linePrice += price;
    counts.lineCost += cost;
    counts.margin += price - cost;
    return slot;
  }

  /** The status class of the order's latest written version. */
  setStatus(slot: number, status: StatusClass): void {
    this.orderStatus.array[slot] = status;
  }

  setSettlement(invoice: number, harga: number, refunded: boolean): void {
    this.settlement.array[invoice] = SETTLED | (refunded ? REFUNDED : 0);
    this.settledPrice.array[invoice] = harga;
  }

  get orders(): number {
    return this.orderCount;
  }

  /**
   * Decides every (store, invoice) by the reconcile rules, first rule that applies,
   * tolerance 0, and yields each in invoice order (which is the order of creation).
   * Invoices of rejected rows have neither a landed purchase nor a settlement and get
   * no outcome.
   */
  *outcomes(): Generator<OutcomeRow> {
    const n = this.invoiceCount;
    const orders = new Uint8Array(n);
    const cancelled = new Uint8Array(n);
    const flags = new Uint8Array(n); // 1: some purchase returned, 2: some purchase completed
    const expected = new Float64Array(n);
    for (let slot = 0; slot < this.orderCount; slot++) {
      const invoice = this.orderInvoice.array[slot] as number;
      const status = this.orderStatus.array[slot] as number;
      orders[invoice] = (orders[invoice] as number) + 1;
      if (status === StatusClass.Cancelled) cancelled[invoice] = (cancelled[invoice] as number) + 1;
      else expected[invoice] = (expected[invoice] as number) + (this.orderPrice.array[slot] as number);
      if (status === StatusClass.Returned) flags[invoice] = (flags[invoice] as number) | 1;
      if (status === StatusClass.Completed) flags[invoice] = (flags[invoice] as number) | 2;
    }
    for (let invoice = 0; invoice < n; invoice++) {
      const settled = this.settlement.array[invoice] as number;
      const count = orders[invoice] as number;
      if (count === 0 && settled === 0) continue;
      const harga = settled ? (this.settledPrice.array[invoice] as number) : null;
      const sum = expected[invoice] as number;
      let outcome: Outcome;
      if (count === 0) outcome = "orphan_settlement";
      else if ((flags[invoice] as number) & 1 || settled & REFUNDED) outcome = "returned";
      else if (cancelled[invoice] === count && !settled) outcome = "cancelled";
      else if (settled && harga === sum) outcome = "matched";
      else if (settled) outcome = "amount_mismatch";
      else if ((flags[invoice] as number) & 2) outcome = "missing_settlement";
      else outcome = "in_progress";
      const store = this.invoiceStore.array[invoice] as number;
      const counts = this.stores[store] as StoreCounts;
      counts.outcomes[outcome]++;
      if (count > 0) counts.invoices++;
      if (count > 1) counts.splitInvoices++;
      yield {
        store,
        invoiceCode: this.invoiceCode.array[invoice] as number,
        day: this.invoiceDay.array[invoice] as number,
        outcome,
        expected: count > 0 ? sum : null,
        actual: harga,
        splitInvoice: count > 1,
      };
    }
    // Final status mix of the landed orders.
    for (let slot = 0; slot < this.orderCount; slot++) {
      const store = this.invoiceStore.array[this.orderInvoice.array[slot] as number] as number;
      const counts = (this.stores[store] as StoreCounts).ordersByStatus;
      const status = this.orderStatus.array[slot] as number;
      if (status === StatusClass.Completed) counts.completed++;
      else if (status === StatusClass.Cancelled) counts.cancelled++;
      else if (status === StatusClass.Returned) counts.returned++;
      else counts.in_progress++;
    }
  }
}
