/**
 * One invoice whole (GET /api/invoices/:invoice): the supplier orders that carry it
 * with their lines, its settlement with every amount, and its current reconcile outcome
 * with the run that decided it. An invoice is a (store, marketplace order number); the
 * store may be left out while only one store has the number.
 */
import { type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { type Database, queryRows } from "../db/client.js";
import { RECONCILE_OUTCOMES } from "../db/schema.js";
import { AppError } from "../errors.js";
import { stripTextGuard } from "../imports/csv/index.js";
import { SETTLEMENT_MONEY } from "../imports/settlement-rows.js";
import { jakartaDay } from "../reconcile/scope.js";
import { STATUS_CLASSES, statusClassSql } from "../reconcile/status-classes.js";
import { type NamedStore, resolveStore } from "../stores/resolve.js";

/** GET /api/invoices/:invoice: the invoice (its marketplace order number) and, when several stores have it, the store. */
export const InvoiceQuery = z
  .object({
    invoice: z.string().trim().min(1).max(200),
    store: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

const rupiah = z.number().describe("Whole rupiah.");
/** Timestamps are ISO 8601 in UTC with milliseconds; days are YYYY-MM-DD. */
const isoTime = z.string();
const isoDay = z.string();

/** One line of a purchase; its keys are the columns the lookup reads. */
const PurchaseLineViewSchema = z.object({
  line_no: z.number().int(),
  sku: z.string(),
  product_name: z.string().nullable(),
  unit_cost: rupiah,
  qty: z.number().int(),
  line_cost: rupiah,
  unit_price: rupiah,
  line_price: rupiah,
  line_margin: rupiah,
});

const PurchaseViewSchema = z.object({
  order_code: z.string(),
  transaction_code: z.string().nullable(),
  channel: z.string(),
  ordered_at: isoTime,
  status: z.string().describe("The supplier's last status, as written."),
  status_class: z.enum(STATUS_CLASSES),
  other_fee: rupiah,
  partner_fee: rupiah,
  order_total: rupiah,
  created_by: z.string().nullable(),
  warehouse: z.string().nullable(),
  courier: z.string().nullable(),
  cashless: z.boolean().nullable(),
  waybill: z.string().nullable(),
  shipped_at: isoTime.nullable(),
  province: z.string().nullable(),
  city: z.string().nullable(),
  updated_at: isoTime,
  lines: z.array(PurchaseLineViewSchema),
});

const SettlementViewSchema = z.object({
  ordered_on: isoDay.nullable(),
  payout_date: isoDay.nullable(),
  ...(Object.fromEntries(SETTLEMENT_MONEY.map(([column]) => [column, rupiah])) as Record<string, typeof rupiah>),
  shipping_service: z.string().nullable(),
  courier_name: z.string().nullable(),
  updated_at: isoTime,
});

const InvoiceOutcomeViewSchema = z.object({
  outcome: z.enum(RECONCILE_OUTCOMES),
  expected: rupiah.nullable(),
  actual: rupiah.nullable(),
  diff: rupiah.nullable(),
  split_invoice: z.boolean(),
  order_date: isoDay.nullable(),
  decided_at: isoTime,
  job_id: z.string().describe("The reconcile run that decided it."),
  reconcile_url: z.string(),
});

/** Purchases with their lines, the settlement and the outcome, as the database wrote them (snake_case, whole rupiah). */
export const InvoiceViewSchema = z
  .object({
    store: z.string(),
    invoice: z.string(),
    order_date: isoDay.nullable().describe("The earliest purchase's order day in Asia/Jakarta, else the settlement's."),
    purchases: z.array(PurchaseViewSchema),
    settlement: SettlementViewSchema.nullable(),
    outcome: InvoiceOutcomeViewSchema.nullable().describe("The invoice's current reconcile outcome; null until a run decided it."),
  })
  .meta({ id: "InvoiceView" });
export type InvoiceView = z.infer<typeof InvoiceViewSchema>;

/**
 * The invoice, or 404; `storeName` null asks every store, and a number that several
 * stores have is a 400 naming `store` with those stores.
 */
export async function lookupInvoice(db: Database, invoiceText: string, storeName: string | null): Promise<InvoiceView> {
  // As the import stores it: a pasted spreadsheet guard (`'`) finds the invoice too.
  const invoice = stripTextGuard(invoiceText);
  const store = storeName === null ? await onlyStoreWith(db, invoice) : await resolveStore(db, storeName, { location: "query" });
  const view = store === null ? null : await invoiceOf(db, store, invoice);
  if (view === null) {
    throw new AppError("not_found", `No invoice ${invoice}${storeName === null ? "" : ` in store ${store?.name ?? storeName}`}.`);
  }
  return view;
}

/** The one store that has the invoice, null for none; several is the caller's to resolve. */
async function onlyStoreWith(db: Database, invoice: string): Promise<NamedStore | null> {
  // Per store an index lookup of each table: stores are few, the tables are large.
  const found = await queryRows<{ id: number; name: string }>(
    db,
    sql`select st.id, st.name from stores st
        where exists (select 1 from purchases p where p.store_id = st.id and p.invoice = ${invoice})
           or exists (select 1 from settlements s where s.store_id = st.id and s.order_sn = ${invoice})
        order by st.name`,
  );
  if (found.length > 1) {
    throw new AppError("validation_failed", `Invoice ${invoice} is in ${found.length} stores (${found.map((s) => s.name).join(", ")}): name one with ?store=.`, {
      fields: [{ field: "store", location: "query", message: `is needed: the invoice is in ${found.map((s) => s.name).join(", ")}` }],
    });
  }
  return found[0] ?? null;
}

/** A timestamp as JSON shows every other one: ISO 8601 in UTC with milliseconds. */
const iso = (column: SQL) => sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const day = (column: SQL) => sql`to_char(${column}, 'YYYY-MM-DD')`;
/** json_build_object over [key, value] pairs. */
const jsonObject = (pairs: Array<[string, SQL]>) =>
  sql`json_build_object(${sql.join(
    pairs.map(([key, value]) => sql`${sql.raw(`'${key}'`)}, ${value}`),
    sql`, `,
  )})`;
const columns = (alias: string, names: string[]): Array<[string, SQL]> => names.map((name) => [name, sql.raw(`${alias}.${name}`)]);

/** The whole invoice in one statement, built as JSON by the database; null when the store has neither purchase nor settlement. */
async function invoiceOf(db: Database, store: NamedStore, invoice: string): Promise<InvoiceView | null> {
  const line = jsonObject(columns("l", Object.keys(PurchaseLineViewSchema.shape)));
  const purchase = jsonObject([
    ...columns("p", ["order_code", "transaction_code", "channel"]),
    ["ordered_at", iso(sql`p.ordered_at`)],
    ["status", sql`p.status`],
    ["status_class", statusClassSql(sql`p.status`)],
    ...columns("p", ["other_fee", "partner_fee", "order_total", "created_by", "warehouse", "courier", "cashless", "waybill"]),
    ["shipped_at", iso(sql`p.shipped_at`)],
    ...columns("p", ["province", "city"]),
    ["updated_at", iso(sql`p.updated_at`)],
    ["lines", sql`(select coalesce(json_agg(${line} order by l.line_no), '[]') from purchase_lines l where l.order_code = p.order_code)`],
  ]);
  const settlement = jsonObject([
    ["ordered_on", day(sql`s.ordered_on`)],
    ["payout_date", day(sql`s.payout_date`)],
    ...columns("s", [...SETTLEMENT_MONEY.map(([column]) => column), "shipping_service", "courier_name"]),
    ["updated_at", iso(sql`s.updated_at`)],
  ]);
  const outcome = jsonObject([
    ...columns("o", ["outcome", "expected", "actual", "diff", "split_invoice"]),
    ["order_date", day(sql`o.order_date`)],
    ["decided_at", iso(sql`o.decided_at`)],
    ["job_id", sql`o.job_id`],
    ["reconcile_url", sql`'/api/reconcile/' || o.job_id`],
  ]);
  const [row] = await queryRows<{ purchases: InvoiceView["purchases"]; settlement: InvoiceView["settlement"]; outcome: InvoiceView["outcome"]; order_date: string | null }>(
    db,
    sql`select
          (select coalesce(json_agg(${purchase} order by p.ordered_at, p.order_code), '[]')
           from purchases p where p.store_id = ${store.id} and p.invoice = ${invoice}) as purchases,
          (select ${settlement} from settlements s where s.store_id = ${store.id} and s.order_sn = ${invoice}) as settlement,
          (select ${outcome} from reconcile_outcomes o where o.store_id = ${store.id} and o.invoice = ${invoice}) as outcome,
          to_char(coalesce(
            (select ${jakartaDay(sql`min(p.ordered_at)`)} from purchases p where p.store_id = ${store.id} and p.invoice = ${invoice}),
            (select s.ordered_on from settlements s where s.store_id = ${store.id} and s.order_sn = ${invoice})), 'YYYY-MM-DD') as order_date`,
  );
  if (!row || (row.purchases.length === 0 && row.settlement === null)) return null;
  return { store: store.name, invoice, order_date: row.order_date, purchases: row.purchases, settlement: row.settlement, outcome: row.outcome };
}
