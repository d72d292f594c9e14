/**
 * The validated shapes an import writes: purchase orders with their lines, and
 * settlement rows (tables in lib/db/schema.ts). The CSV layer turns records into
 * these; the upserts in purchases.ts and settlements.ts write them.
 * Money is whole rupiah.
 */

/** Which version of an order wins: a later import, then a later file, then a later line. */
export interface SourceRank {
  job: number;
  file: number;
  line: number;
}

export function compareRank(a: SourceRank, b: SourceRank): number {
  return a.job - b.job || a.file - b.file || a.line - b.line;
}

export interface PurchaseLine {
  lineNo: number;
  sku: string;
  productName: string | null;
  unitCost: number;
  qty: number;
  lineCost: number;
  unitPrice: number;
  linePrice: number;
  lineMargin: number;
}

export interface PurchaseOrder {
  orderCode: string;
  transactionCode: string | null;
  /** The store as written (trimmed); stores are matched case-insensitively. */
  storeName: string;
  channel: string;
  invoice: string;
  orderedAt: Date;
  status: string;
  otherFee: number;
  partnerFee: number;
  orderTotal: number;
  createdBy: string | null;
  warehouse: string | null;
  courier: string | null;
  cashless: boolean | null;
  waybill: string | null;
  shippedAt: Date | null;
  province: string | null;
  city: string | null;
  lines: PurchaseLine[];
  rank: SourceRank;
}

export interface Settlement {
  orderSn: string;
  orderedOn: string | null;
  payoutDate: string | null;
  grossProductPrice: number;
  productDiscount: number;
  buyerRefund: number;
  sellerVoucher: number;
  amsCommission: number;
  adminFee: number;
  serviceFee: number;
  programFee: number;
  campaignFee: number;
  buyerShippingFee: number;
  shopeeShippingSubsidy: number;
  shippingForwarded: number;
  sellerShippingPromo: number;
  netPayout: number;
  shippingService: string | null;
  courierName: string | null;
  /** As an order's: which row of an order number wins when several imports or files hold it. */
  rank: SourceRank;
}

/**
 * What one chunk's write adds to the import's counters. Each order (or settlement)
 * counts once per import, so a chunk that supersedes a block an earlier chunk of the
 * same import counted takes that count back: a chunk's figures may be negative, the
 * import's totals never are (see lib/imports/ranked-write.ts).
 */
export interface UpsertCounts {
  inserted: number;
  updated: number;
  unchanged: number;
}

/**
 * Counts an earlier chunk of the same import made and a later one took back (it wrote a
 * higher-ranked version), by the file position of the chunk that made them: the import's
 * totals are already net, and this says which file's counts to take them from.
 */
export type TakenBack = Map<number, UpsertCounts>;

/** One distinct row of a write: its key, its source rank and how it counted. */
export interface RowOutcome {
  key: string;
  rank: SourceRank;
  count: keyof UpsertCounts;
}

/** What a write reports beside its counts, to a caller that asks (ranked-write.ts fills it). */
export interface WriteReport {
  /** What the write took back from earlier chunks of its import, by their file. */
  takenBack?: TakenBack;
  /** Each distinct row's outcome: a dry run keeps them to count its import at the end. */
  outcomes?: RowOutcome[];
}
