/**
 * Shopee income reports ("Laporan Penghasilan", sheet Income saved as CSV UTF-8), one
 * per store and half-month of payout date, laid out exactly like a real report (the
 * shared fixture shopee-income-2025-05.csv): BOM, CRLF, 39 fields on every
 * line; line 1 `Username (Penjual),Dari,ke`, line 2 the seller's username and the
 * period, two empty lines, line 5 `total(Rp)` with the column sums (the same columns
 * the real report sums: Biaya Komisi AMS and the text columns stay empty), the
 * header on line 6 (with its quoted `Bea Masuk, PPN & PPh` and its nameless column),
 * then one settled order per line. With `--format xlsx` each report is the workbook
 * Shopee hands out instead (five sheets, Income second, holding the same cells on the
 * same row numbers): see settlement-workbook.ts, which writes both forms.
 *
 * Fees follow the fixture: admin 8 % and service 5 % of (Harga Asli Produk + Total
 * Diskon Produk + Diskon Voucher Ditanggung Penjual), sometimes an affiliate (AMS)
 * commission, seller vouchers and product discounts; shipping nets to zero; Total
 * Penghasilan is the sum of columns 7–26, as in the fixture.
 *
 * Rows are created with their orders (in order-time order) and held per open
 * (store, half-month); a report is written as soon as the order clock has passed its
 * last payout day, so at most a few weeks of settlement rows are in memory.
 */
import path from "node:path";
import { isoDay, periodOf, type Period } from "./calendar.js";
import { type InvoiceCodes } from "./ids.js";
import { type Ledger } from "./ledger.js";
import { orderPrice, type Order, StatusClass } from "./purchase-format.js";
import { type Rng, weightedInts, Weighted } from "./rng.js";
import { NET_COLUMNS, NUMERIC_COLUMNS, SETTLEMENT_WIDTH, type SettlementSource, writeSettlementCsv, writeSettlementWorkbook } from "./settlement-workbook.js";
import { type Store } from "./stores.js";
import { type FileEntry } from "./summary-types.js";

export { NET_COLUMNS, SETTLEMENT_HEADERS, settlementCsvText, TOTALLED_COLUMNS, writeSettlementWorkbook } from "./settlement-workbook.js";
export type { SettlementReport } from "./settlement-workbook.js";

const WIDTH = SETTLEMENT_WIDTH; // 39
/** The columns a report sums up front: its totals line and the workbook's Summary sheet. */
const SUMMED_COLUMNS = NUMERIC_COLUMNS.filter((c) => c > 0);
/** Joins a row's fields while its report is open (no generated field holds it). */
const FIELD_SEPARATOR = "\u001F";

/** Buyers' payment methods as the real report shows them (the benchmark draws from it too). */
export const PAYMENT = new Weighted(
  ["COD (Bayar di Tempat)", "Saldo ShopeePay", "Online Payment", "SPayLater", "SeaBank Bayar Instan", "Kartu Kredit/Debit", "Alfamart/Alfamidi/Dan+Dan"],
  [224, 181, 163, 80, 28, 24, 3],
);
const COURIER = new Weighted(
  [
    ["Reguler", "SPX Standard"],
    ["Hemat", "SPX Hemat"],
    ["Reguler", "SiCepat REG"],
    ["Instant", "GoSend Instant"],
    ["Hemat", "SiCepat Halu"],
    ["Reguler", "JNE Reguler"],
    ["Same Day", "GrabExpress Sameday"],
    ["Instant", "GrabExpress Instant"],
  ],
  [299, 105, 87, 45, 36, 23, 18, 12],
);
// Days from order to payout, as the fixture shows them.
const PAYOUT_LAG = weightedInts([
  [1, 46],
  [2, 110],
  [3, 122],
  [4, 158],
  [5, 112],
  [6, 93],
  [7, 23],
  [8, 24],
  [9, 6],
  [10, 1],
  [11, 3],
  [12, 3],
  [13, 3],
  [15, 1],
]);
const SHIPPING = [9000, 9000, 12000, 14000, 16000, 17000, 20000, 28000];
const BUYER_WORDS = ["rina", "budi", "sari", "andi", "dewi", "agus", "putri", "yoga", "nadia", "fajar", "lydia", "bayu", "tika", "rizky"];

/** The settlement plan per final status class: how often Shopee paid out, and how often the amount is off. */
export const SETTLE_RATE = { completed: 0.92, inProgress: 0.4, cancelled: 0.05, returned: 0.5 };
export const MISMATCH_RATE = 0.04;
export const ORPHAN_RATE = 0.0205;
/** Orphan invoices take their suffixes from a range purchases never reach, so switching settlements off leaves the purchase files as they were. */
const ORPHAN_CODE_BASE = 2_000_000_000_000;

interface OpenReport {
  store: number;
  period: Period;
  rows: string[];
  sums: Float64Array;
}

export class SettlementBook {
  private readonly open = new Map<string, OpenReport>();
  readonly files: FileEntry[] = [];
  rows = 0;
  orphans = 0;

  constructor(
    private readonly rng: Rng,
    private readonly stores: Store[],
    private readonly storeWeights: Weighted<number>,
    private readonly ledger: Ledger,
    private readonly invoices: InvoiceCodes,
    private readonly dir: string,
    private readonly samplePrice: (rng: Rng) => number,
    private readonly format: "csv" | "xlsx" = "csv",
  ) {}

  /**
   * Decides whether the marketplace settled these supplier orders (one, or the two of
   * a split invoice) and books the row. The plan follows the orders' final status;
   * the outcome manifest is still computed from what was written, not from this plan.
   */
  book(orders: Order[], finalClass: StatusClass): void {
    const first = orders[0] as Order;
    const rate =
      finalClass === StatusClass.Completed
        ? SETTLE_RATE.completed
        : finalClass === StatusClass.InProgress
          ? SETTLE_RATE.inProgress
          : finalClass === StatusClass.Cancelled
            ? SETTLE_RATE.cancelled
            : SETTLE_RATE.returned;
    if (!this.rng.chance(rate)) return;
    let harga = orders.reduce((sum, order) => sum + orderPrice(order), 0);
    if (finalClass !== StatusClass.Cancelled && finalClass !== StatusClass.Returned && this.rng.chance(MISMATCH_RATE)) {
      harga = this.mismatched(harga);
    }
    const refund = finalClass === StatusClass.Returned;
    this.add(first.store, first.invoiceIndex, first.invoice, first.day, harga, refund);
  }

  /** A settled amount that differs from the purchase: a price changed on the marketplace, a line missing, a typo. */
  private mismatched(expected: number): number {
    for (;;) {
      const kind = this.rng.int(3);
      let harga: number;
      if (kind === 0) harga = expected + Math.round((expected * this.rng.uniform(-0.2, 0.2)) / 100) * 100;
      else if (kind === 1) harga = expected + this.rng.pick([-5000, -2000, -1000, 1000, 2000, 5000]);
      else harga = expected * 2;
      if (harga !== expected && harga > 0) return harga;
    }
  }

  /** Sometimes, beside a fresh order, a settlement of an order this seller never bought from Jakmall. */
  maybeOrphan(day: number): void {
    if (!this.rng.chance(ORPHAN_RATE)) return;
    const store = this.storeWeights.sample(this.rng);
    const code = ORPHAN_CODE_BASE + this.orphans;
    const index = this.ledger.newInvoice(store, day, code);
    const invoice = this.invoices.invoice(code, day);
    const harga = this.samplePrice(this.rng) * (this.rng.chance(0.85) ? 1 : 2);
    this.orphans++;
    this.add(store, index, invoice, day, harga, false);
  }

  private add(store: number, invoiceIndex: number, invoice: string, orderDay: number, harga: number, refund: boolean): void {
    const rng = this.rng;
    const payoutDay = orderDay + PAYOUT_LAG.sample(rng) + (refund ? rng.between(3, 10) : 0);
    const v = new Array<number>(WIDTH).fill(0);
    v[7] = harga;
    v[8] = rng.chance(0.14) ? -Math.round((harga * rng.uniform(0.03, 0.1)) / 100) * 100 : 0;
    let voucherCode = "";
    if (rng.chance(0.35)) {
      v[11] = -Math.min(rng.pick([1000, 1000, 1500, 2000, 5000, 10000]), Math.floor(harga / 500) * 100);
      if (v[11] !== 0) voucherCode = `${this.stores[store]?.username.slice(0, 4).toUpperCase()}${rng.u32().toString(36).toUpperCase().slice(0, 5)}`;
      else v[11] = 0;
    }
    const base = v[7] + (v[8] as number) + (v[11] as number);
    const shipping = rng.pick(SHIPPING);
    const buyerPays = rng.chance(0.25) ? Math.min(shipping, rng.pick([2000, 4400, 9000, 13000])) : 0;
    v[13] = buyerPays;
    v[15] = shipping - buyerPays;
    v[16] = -shipping;
    if (refund) {
      // Full refunds carry no fees; partial ones keep them on what was kept.
      if (rng.chance(0.7)) v[9] = -base;
      else {
        v[9] = -Math.round((base * rng.uniform(0.3, 0.8)) / 100) * 100;
        v[20] = -Math.round(base * 0.08);
        v[21] = -Math.round(base * 0.05);
      }
    } else {
      v[19] = rng.chance(0.065) ? -Math.round(base * rng.pick([0.03, 0.05, 0.07, 0.1])) : 0;
      v[20] = -Math.round(base * 0.08);
      v[21] = -Math.round(base * 0.05);
    }
    v[30] = rng.chance(0.003) ? -2000 : 0;
    v[27] = NET_COLUMNS.reduce((sum, c) => sum + (v[c] as number), 0);
    const [service, courier] = COURIER.sample(rng);

    const text: string[] = v.map((n) => String(n));
    text[1] = invoice;
    text[2] = "";
    text[3] = `${rng.pick(BUYER_WORDS)}${rng.pick(["", ".", "_"])}${rng.pick(BUYER_WORDS)}${rng.int(100)}`;
    text[4] = isoDay(orderDay);
    text[5] = PAYMENT.sample(rng);
    text[6] = isoDay(payoutDay);
    text[19] = String(v[19]);
    text[28] = voucherCode;
    text[31] = service as string;
    text[32] = courier as string;
    text[33] = "";

    const period = periodOf(payoutDay);
    const key = `${period.key}:${store}`;
    let report = this.open.get(key);
    if (!report) {
      report = { store, period, rows: [], sums: new Float64Array(WIDTH) };
      this.open.set(key, report);
    }
    for (const c of SUMMED_COLUMNS) report.sums[c] = (report.sums[c] as number) + (v[c] as number);
    // "No." is numbered when the report is written; keep the rest of the row.
    report.rows.push(text.slice(1).join(FIELD_SEPARATOR));
    this.ledger.setSettlement(invoiceIndex, harga, refund && v[9] !== 0);
    const counts = this.ledger.stores[store];
    if (counts) counts.settlementRows++;
    this.rows++;
  }

  /** Writes every report whose last payout day is before `day` (no later order can pay out in it). */
  async advance(day: number): Promise<void> {
    const due = [...this.open.values()].filter((report) => report.period.lastDay < day);
    if (due.length === 0) return;
    due.sort((a, b) => a.period.firstDay - b.period.firstDay || a.store - b.store);
    for (const report of due) {
      this.open.delete(`${report.period.key}:${report.store}`);
      await this.write(report);
    }
  }

  async finish(): Promise<void> {
    await this.advance(Number.MAX_SAFE_INTEGER);
  }

  private async write(report: OpenReport): Promise<void> {
    const store = this.stores[report.store] as Store;
    const from = isoDay(report.period.firstDay);
    const to = isoDay(report.period.lastDay);
    const name = `shopee-income-${store.username}-${from.replace(/-/g, "")}_${to.replace(/-/g, "")}.${this.format}`;
    // Shopee numbers the rows of its full report; a seller's saved sheet shows gaps.
    const numbers = new Array<number>(report.rows.length);
    let no = 1 + this.rng.int(100);
    for (let i = 0; i < numbers.length; i++) {
      numbers[i] = no;
      no += 1 + (this.rng.chance(0.3) ? this.rng.int(40) : 0);
    }
    const source: SettlementSource = {
      username: store.username,
      from,
      to,
      count: report.rows.length,
      sums: report.sums,
      rows: function* () {
        for (let i = 0; i < numbers.length; i++) yield [String(numbers[i]), ...(report.rows[i] as string).split(FIELD_SEPARATOR)];
      },
    };
    const file = path.join(this.dir, name);
    const { bytes, sha256 } = this.format === "xlsx" ? await writeSettlementWorkbook(file, source) : await writeSettlementCsv(file, source);
    this.files.push({
      name: `settlements/${name}`,
      file_type: "settlements",
      rows: report.rows.length,
      // The CSV's physical lines; in a workbook, sheet Income's last row.
      lines: 6 + report.rows.length,
      bytes,
      sha256,
      store: store.name,
      username: store.username,
      period: { from, to },
    });
  }
}
