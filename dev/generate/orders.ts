/**
 * Supplier orders shaped like real shops': lines per order 1 = 88 %, 2 = 7.5 %,
 * 3 = 3 %, 4–6 = 1.5 %; qty 1 = 80 %, 2 = 12 %, 3–10 = 8 %; SKUs by popularity;
 * final status 86.5 % completed, 6 % cancelled, 5 % in process, 2.5 % returned
 * (returned is a little under the real 3 % so that the `returned` outcome stays
 * inside its 1–3 % band once orphan settlements join the denominator).
 */
import { dayNumber } from "./calendar.js";
import { type Catalogue } from "./catalogue.js";
import { type InvoiceCodes, type SupplierCodes } from "./ids.js";
import { type Ledger } from "./ledger.js";
import { type Order, type OrderLine, STATUS } from "./purchase-format.js";
import { type Rng, Weighted, weightedInts } from "./rng.js";
import { misspell, type Store } from "./stores.js";

export const LINES_PER_ORDER = weightedInts([
  [1, 880],
  [2, 75],
  [3, 30],
  [4, 5],
  [5, 5],
  [6, 5],
]);
export const QTY = weightedInts([
  [1, 800],
  [2, 120],
  [3, 30],
  [4, 15],
  [5, 12],
  [6, 6],
  [7, 5],
  [8, 4],
  [9, 3],
  [10, 5],
]);
export const FINAL_STATUS = new Weighted(
  [STATUS.completed, STATUS.cancelled, STATUS.shipping, STATUS.packing, STATUS.returned],
  [865, 60, 30, 20, 25],
);
/** Share of rows whose shop name is spelled with other case or extra spaces (per order, so one order never disagrees with itself). */
export const MISSPELL_RATE = 0.002;

const WAREHOUSES = ["Gudang Jakmall Jakarta Barat", "Gudang Jakmall Surabaya", "Gudang Jakmall Bandung"];
const COURIERS: ReadonlyArray<readonly [string, string]> = [
  ["SPX Standard", "SPXID0"],
  ["J&T Express", "JP"],
  ["SiCepat REG", "0041"],
  ["JNE Reguler", "CGK"],
  ["AnterAja Reguler", "1000"],
];
const PLACES: ReadonlyArray<readonly [string, string, number]> = [
  ["DKI Jakarta", "Jakarta Selatan", 9],
  ["DKI Jakarta", "Jakarta Timur", 8],
  ["Jawa Barat", "Kab. Bogor", 8],
  ["Jawa Barat", "Kota Bandung", 7],
  ["Jawa Barat", "Kota Bekasi", 7],
  ["Banten", "Kota Tangerang", 6],
  ["Jawa Timur", "Kota Surabaya", 7],
  ["Jawa Tengah", "Kota Semarang", 4],
  ["DI Yogyakarta", "Kab. Sleman", 3],
  ["Sumatera Utara", "Kota Medan", 4],
  ["Sulawesi Selatan", "Kota Makassar", 2],
  ["Bali", "Kota Denpasar", 2],
  ["Kalimantan Timur", "Kota Balikpapan", 1],
  ["Riau", "Kota Pekanbaru", 1],
];
const PLACE = new Weighted(
  PLACES.map(([province, city]) => [province, city] as const),
  PLACES.map(([, , w]) => w),
);

/** The status an earlier export showed for an order whose latest export shows `final`. */
export function earlierStatus(rng: Rng, final: string): string {
  switch (final) {
    case STATUS.completed:
      return rng.pick([STATUS.shipping, STATUS.shipping, STATUS.packing, final]);
    case STATUS.returned:
      return rng.pick([STATUS.completed, STATUS.completed, STATUS.shipping, final]);
    case STATUS.cancelled:
      return rng.chance(0.4) ? STATUS.packing : final;
    case STATUS.shipping:
      return rng.chance(0.5) ? STATUS.packing : final;
    default:
      return final;
  }
}

export class OrderFactory {
  private readonly storeWeights: Weighted<number>;
  /** Purchase invoices number their suffixes from 0; orphan settlements use their own range. */
  private nextInvoiceCode = 0;

  constructor(
    private readonly rng: Rng,
    private readonly catalogue: Catalogue,
    readonly stores: Store[],
    private readonly codes: SupplierCodes,
    private readonly invoices: InvoiceCodes,
    private readonly ledger: Ledger,
  ) {
    this.storeWeights = new Weighted(
      stores.map((_, i) => i),
      stores.map((s) => s.weight),
    );
  }

  drawStore(): number {
    return this.storeWeights.sample(this.rng);
  }

  /** A fresh invoice number of `store` on `day`, registered in the ledger. */
  invoice(store: number, day: number): { index: number; invoice: string } {
    const code = this.nextInvoiceCode++;
    return { index: this.ledger.newInvoice(store, day, code), invoice: this.invoices.invoice(code, day) };
  }

  lines(count: number): OrderLine[] {
    const lines: OrderLine[] = [];
    const seen = new Set<number>();
    while (lines.length < count) {
      const index = this.catalogue.draw(this.rng);
      if (seen.has(index)) continue;
      seen.add(index);
      const sku = this.catalogue.sku(index);
      lines.push({ sku: sku.code, name: sku.name, qty: QTY.sample(this.rng), unitCost: sku.unitCost, unitPrice: sku.unitPrice });
    }
    return lines;
  }

  /**
   * A new order at local time `time` with at most `maxLines` lines. `partner` makes
   * the second supplier order of a split invoice: same shop, invoice and status.
   */
  fresh(time: number, maxLines: number, partner?: Order): Order {
    const rng = this.rng;
    const day = dayNumber(time);
    const store = partner ? partner.store : this.drawStore();
    const storeName = (this.stores[store] as Store).name;
    const invoice = partner ? { index: partner.invoiceIndex, invoice: partner.invoice } : this.invoice(store, day);
    const [province, city] = partner ? [partner.province, partner.city] : PLACE.sample(rng);
    const [courier, waybillPrefix] = rng.pick(COURIERS);
    return {
      slot: -1,
      code: this.codes.order(),
      transaction: this.codes.transaction(),
      store,
      storeText: partner ? partner.storeText : rng.chance(MISSPELL_RATE) ? misspell(rng, storeName) : storeName,
      invoiceIndex: invoice.index,
      invoice: invoice.invoice,
      day: partner ? partner.day : day,
      time,
      finalStatus: partner ? partner.finalStatus : FINAL_STATUS.sample(rng),
      lines: this.lines(Math.max(1, Math.min(maxLines, LINES_PER_ORDER.sample(rng)))),
      otherFee: rng.chance(0.08) ? rng.between(2, 10) * 500 : 0,
      partnerFee: rng.pick([2000, 2000, 2500, 2500, 2200, 2300]),
      createdBy: rng.pick((this.stores[store] as Store).operators),
      warehouse: rng.pick(WAREHOUSES),
      courier,
      cashless: rng.chance(0.8) ? "Ya" : "Tidak",
      waybill: `${waybillPrefix}${String(rng.u32()).padStart(10, "0")}`,
      shippedAt: time + rng.between(2 * 3600, 48 * 3600),
      province,
      city,
    };
  }
}
