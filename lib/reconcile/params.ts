/**
 * The shapes of a reconcile run: the request (POST /api/reconcile), the job's params
 * (the request with its store resolved and its day fixed) and each chunk's payload (one
 * keyset range of invoices, or of settlements for orphans). docs/data.md, "Reconcile",
 * states the rules.
 */
import { z } from "zod";
import { STATUS_CLASSES } from "./status-classes.js";

export const RECONCILE_KIND = "reconcile";

const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A calendar day as YYYY-MM-DD that exists (2025-02-30 does not). */
export const CalendarDay = z
  .string()
  .regex(ISO_DAY, "must be a date as YYYY-MM-DD")
  .refine((text) => {
    const ms = Date.parse(`${text}T00:00:00Z`);
    return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === text;
  }, "is not a calendar date");

/**
 * The store and order-date filters a run and the margin report share: a store's name
 * (case-insensitive; every store when absent) and order dates in Asia/Jakarta, inclusive.
 */
export const StoreAndDayFilters = z.object({
  store: z.string().trim().min(1).max(200).optional(),
  from: CalendarDay.optional(),
  to: CalendarDay.optional(),
});

/** `from` after `to` is the caller's mistake, named on `from`. */
export function refineDayRange(filters: { from?: string; to?: string }, ctx: z.RefinementCtx): void {
  if (filters.from && filters.to && filters.from > filters.to) {
    ctx.addIssue({ code: "custom", path: ["from"], message: `is after to (${filters.to})` });
  }
}

/** POST /api/reconcile. */
export const ReconcileRequest = StoreAndDayFilters.extend({
  /** Only invoices with a purchase of this status class (orphan settlements have none). */
  status: z.enum(STATUS_CLASSES).optional(),
  /** Rupiah; an invoice whose amounts differ by at most this is matched. */
  tolerance: z.number().int().min(0).max(1_000_000_000).default(0),
})
  .strict()
  .superRefine(refineDayRange);
export type ReconcileRequest = z.output<typeof ReconcileRequest>;

/** The first and last key of a range: (store, invoice) for invoices, (store, order number) for orphans. */
const RangeKey = z.object({ store_id: z.number().int(), invoice: z.string() });
export type RangeKey = z.output<typeof RangeKey>;

export const ReconcileParams = z.object({
  /** The stores of the scope; null: every store. */
  store_ids: z.array(z.number().int()).min(1).nullable(),
  from: CalendarDay.nullable(),
  to: CalendarDay.nullable(),
  status: z.enum(STATUS_CLASSES).nullable(),
  tolerance: z.number().int().min(0),
  /**
   * The run's day in Asia/Jakarta, fixed when it was created: what the aging of missing
   * settlements counts from, so two reads of a run never disagree.
   */
  as_of: CalendarDay,
  /** The import whose end started this run (reconcile after import), if one did. */
  after_import: z.string().uuid().nullable().default(null),
});
export type ReconcileParams = z.output<typeof ReconcileParams>;

/**
 * One chunk: the keys in (after, through] of the scope, in (store_id, invoice) order.
 * `invoices`: every invoice with a purchase there; `orphans`: settlements there whose
 * invoice has no purchase in the store.
 */
export const ReconcilePayload = z.object({
  range: z.enum(["invoices", "orphans"]),
  after: RangeKey.nullable(),
  through: RangeKey,
});
export type ReconcilePayload = z.output<typeof ReconcilePayload>;

/** Aging of missing settlements: days since the order, as GET /api/reconcile/:id shows them. */
export const AGING_BUCKETS = [
  { name: "0-7", upTo: 7 },
  { name: "8-14", upTo: 14 },
  { name: "15-30", upTo: 30 },
  { name: "31+", upTo: null },
] as const;
