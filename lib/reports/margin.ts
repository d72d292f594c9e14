/**
 * The margin report: what a seller made, per month, store or SKU (docs/data.md, "Margin
 * report"), in one set-based statement over the invoices' current reconcile outcomes:
 * every run keeps, beside each invoice's outcome, the money it read (the settlement's
 * amounts and the supplier's cost), so the report sums one narrow table instead of
 * re-reading every purchase, line and settlement (6.8 s at 1 M purchases; this, a few
 * hundred ms). It shows what the latest runs decided: an import with `reconcile: true`
 * keeps it current. An invoice is scoped like a run: by store and by its order date.
 *
 * - gross sales, the fees, refunds and net payout are the settlement's (deductions
 *   are negative, as the marketplace writes them); 0 without a settlement;
 * - supplier cost is what the supplier charged: Σ line cost + other fee + partner fee
 *   over the invoice's purchases that are not cancelled;
 * - net margin = net payout − supplier cost, in rupiah and in percent of gross sales;
 * - unsettled is what the `missing_settlement` invoices are owed (their expected amount);
 * - orders counts the invoices that are not `cancelled` (every purchase cancelled and
 *   nothing settled: no money either way);
 * - by SKU, an invoice's settlement amounts are shared among the lines of its purchases
 *   that are not cancelled by line price (an order's fees among its lines the same way),
 *   with cumulative rounding so the lines' whole rupiah add up to the invoice's exactly;
 *   an invoice with no such line (an orphan, or every purchase cancelled but settled) is
 *   the row with `key` null. Lines are read as they are now.
 * The totals row comes from the same statement (grouping sets), so it is the rows' sum.
 */
import { type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { type Database, queryRows } from "../db/client.js";
import { MARGIN_AMOUNTS } from "../reconcile/decide.js";
import { refineDayRange, StoreAndDayFilters } from "../reconcile/params.js";
import { dayFilter, purchaseClass, type StoreAndDayScope, storeFilter } from "../reconcile/scope.js";

export const MARGIN_GROUPS = ["month", "store", "sku"] as const;
export type MarginGroup = (typeof MARGIN_GROUPS)[number];

/** GET /api/reports/margin: the scope (store, order days), the grouping and the format. */
export const MarginReportQuery = StoreAndDayFilters.extend({
  group: z.enum(MARGIN_GROUPS).default("month"),
  format: z.enum(["json", "csv"]).default("json"),
})
  .strict()
  .superRefine(refineDayRange);

const rupiah = z.number().int().describe("Whole rupiah.");

/** Every amount of a row, in the order of the report's columns (the CSV's too). */
export const MarginFiguresSchema = z.object({
  orders: z.number().int(),
  gross_sales: rupiah,
  admin_fee: rupiah,
  service_fee: rupiah,
  ams_commission: rupiah,
  program_fee: rupiah,
  campaign_fee: rupiah,
  seller_voucher: rupiah,
  net_payout: rupiah,
  supplier_cost: rupiah,
  refunds: rupiah,
  net_margin: rupiah,
  net_margin_pct: z.number().nullable().describe("Net margin in percent of gross sales, two decimals; null when there were no sales."),
  unsettled: rupiah,
});
export type MarginFigures = z.infer<typeof MarginFiguresSchema>;
export const MARGIN_COLUMNS = MarginFiguresSchema.keyof().options;

const MarginRowSchema = MarginFiguresSchema.extend({
  key: z.string().nullable().describe("`YYYY-MM`, the store's name or the SKU; null for the SKU group's invoices without a line."),
});
export type MarginRow = z.infer<typeof MarginRowSchema>;

export interface MarginReport {
  group: MarginGroup;
  rows: MarginRow[];
  totals: MarginFigures;
}

/** GET /api/reports/margin's JSON: the report with the filters it ran with (the store by name). */
export const MarginReportAnswerSchema = z
  .object({
    group: z.enum(MARGIN_GROUPS),
    filters: z.object({ store: z.string().nullable(), from: z.string().nullable(), to: z.string().nullable() }),
    rows: z.array(MarginRowSchema),
    totals: MarginFiguresSchema,
  })
  .meta({ id: "MarginReport" });
export type MarginReportAnswer = z.infer<typeof MarginReportAnswerSchema>;

export interface MarginQuery extends StoreAndDayScope {
  group: MarginGroup;
}

/** Runs the report. */
export async function marginReport(db: Database, query: MarginQuery): Promise<MarginReport> {
  // The SKU group sorts every line in scope: room for that in memory, for this statement only.
  const rows = await db.transaction(async (tx) => {
    if (query.group === "sku") await tx.execute(sql`set local work_mem = '64MB'`);
    return queryRows<Record<string, string | null> & { is_total: boolean }>(tx, reportStatement(query));
  });
  const toFigures = (row: Record<string, string | null>): MarginFigures => {
    const figure = (name: string) => Number(row[name] ?? 0);
    const amounts = Object.fromEntries(MARGIN_AMOUNTS.map((name) => [name, figure(name)])) as Record<(typeof MARGIN_AMOUNTS)[number], number>;
    const margin = amounts.net_payout - amounts.supplier_cost;
    return {
      orders: figure("orders"),
      ...amounts,
      net_margin: margin,
      net_margin_pct: amounts.gross_sales === 0 ? null : Math.round((margin / amounts.gross_sales) * 10_000) / 100,
      unsettled: figure("unsettled"),
    };
  };
  const total = rows.find((row) => row.is_total);
  return {
    group: query.group,
    rows: rows.filter((row) => !row.is_total).map((row) => ({ key: row.key ?? null, ...toFigures(row) })),
    // No invoice in scope: grouping sets still give the empty grand total, all zero.
    totals: toFigures(total ?? {}),
  };
}

/** The current outcomes in scope (store and order date), as `o`. */
const scopedOutcomes = (query: MarginQuery) => sql`
  select o.* from reconcile_outcomes o
  where ${storeFilter(query, sql`o.store_id`)} and ${dayFilter(query, sql`o.order_date`)}`;

/** The sums of a group's facts (one per invoice, or per line by SKU), then grouping sets ((key), ()). */
function reportStatement(query: MarginQuery): SQL {
  const sums = sql.raw(
    [...MARGIN_AMOUNTS, "unsettled"].map((column) => `coalesce(sum(${column}), 0)::text as ${column}`).join(", "),
  );
  if (query.group === "sku") {
    // Facts are summed per (invoice, SKU) first, so a SKU's orders are a count of rows; the
    // total's orders are the scope's invoices (an invoice of two SKUs counts once there).
    return sql`
      with scoped as (${scopedOutcomes(query)}),
      ${skuFacts()},
      pairs as (
        select key, store_id, invoice, bool_or(counted) as counted, ${sql.raw(
          [...MARGIN_AMOUNTS, "unsettled"].map((column) => `sum(${column}) as ${column}`).join(", "),
        )}
        from facts group by key, store_id, invoice
      )
      select grouping(key) = 1 as is_total, key,
             (case when grouping(key) = 1 then (select count(*) from scoped where outcome <> 'cancelled')
                   else count(*) filter (where counted) end)::text as orders,
             ${sums}
      from pairs
      group by grouping sets ((key), ())
      order by is_total, key nulls last`;
  }
  // Months group on the month's first day and are formatted once per group, not per invoice.
  const key = query.group === "month" ? sql`date_trunc('month', o.order_date)::date` : sql`st.name`;
  const shown = query.group === "month" ? sql`to_char(key, 'YYYY-MM')` : sql`key`;
  return sql`
    with facts as (
      select ${key} as key, o.*, o.outcome <> 'cancelled' as counted,
             case when o.outcome = 'missing_settlement' then o.expected else 0 end as unsettled
      from (${scopedOutcomes(query)}) o
      ${query.group === "store" ? sql`join stores st on st.id = o.store_id` : sql``}
    )
    select grouping(key) = 1 as is_total, ${shown} as key, count(*) filter (where counted)::text as orders, ${sums}
    from facts
    group by grouping sets ((key), ())
    order by is_total, key`;
}

/**
 * The SKU group's facts: each invoice's amounts shared among the lines of its purchases
 * that are not cancelled. A line's share of an amount A over weights w (its line price;
 * 1 each when the lines are all priced 0) is A·W≤i div W − A·W<i div W (integer quotients),
 * W≤i the weights up to and including it: the shares telescope to exactly A. An order's
 * fees are shared among its lines the same way. Every window is partitioned within
 * (store, invoice) and ordered by (order, line), so one sort serves them all; an invoice
 * without such a line (the left join's null) keeps its whole amounts under key null.
 */
function skuFacts(): SQL {
  const invoice = sql`store_id, invoice`;
  const order = sql`store_id, invoice, order_code`;
  // sum(bigint) is numeric in Postgres: cast back, so the shares below are integer arithmetic.
  const window = (aggregate: string, partition: SQL, orderBy: SQL | null) =>
    sql`(${sql.raw(aggregate)} over (partition by ${partition}${
      orderBy === null ? sql`` : sql` order by ${orderBy} rows between unbounded preceding and current row`
    }))::bigint`;
  const weights = (partition: SQL, orderBy: SQL, name: string) => sql`
    ${window("sum(line_price)", partition, null)} as ${sql.raw(`${name}_price`)},
    ${window("count(line_no)", partition, null)} as ${sql.raw(`${name}_lines`)},
    ${window("sum(line_price)", partition, orderBy)} as ${sql.raw(`${name}_price_upto`)},
    ${window("count(line_no)", partition, orderBy)} as ${sql.raw(`${name}_lines_upto`)}`;
  // The running weight and the whole: line prices, or line counts when they sum to 0.
  const running = (name: string) =>
    sql.raw(`(case when ${name}_price > 0 then ${name}_price_upto else ${name}_lines_upto end)`);
  const whole = (name: string) => sql.raw(`(case when ${name}_price > 0 then ${name}_price else ${name}_lines end)`);
  const weight = (name: string) => sql.raw(`(case when ${name}_price > 0 then line_price else 1 end)`);
  // Integer division truncates: the shares still telescope to A. bigint while A·W cannot
  // overflow (both under 3·10⁹ rupiah), numeric beyond: numeric is several times slower.
  const share = (amount: SQL, name: string) => {
    const [r, w, t] = [running(name), weight(name), whole(name)];
    return sql`(case when abs(${amount}) < 3000000000 and ${t} < 3000000000
                     then ${amount} * ${r} / ${t} - ${amount} * (${r} - ${w}) / ${t}
                     else (trunc(${amount}::numeric * ${r} / ${t}) - trunc(${amount}::numeric * (${r} - ${w}) / ${t}))::bigint end)`;
  };
  const settled = MARGIN_AMOUNTS.filter((column) => column !== "supplier_cost");
  const lineAmounts = settled.map((column) => {
    const amount = sql.raw(column);
    return sql`case when order_code is null then ${amount} else ${share(amount, "inv")} end as ${amount}`;
  });
  return sql`
    live_lines as (
      select p.store_id, p.invoice, l.order_code, l.line_no, l.sku, l.line_cost, l.line_price,
             p.other_fee + p.partner_fee as order_fees
      from purchases p join purchase_lines l on l.order_code = p.order_code
      where ${purchaseClass} <> 'cancelled'
    ),
    lines as (
      select o.store_id, o.invoice, o.outcome, o.expected, ${sql.raw(MARGIN_AMOUNTS.map((column) => `o.${column}`).join(", "))},
             l.order_code, l.line_no, l.sku, l.line_cost, l.line_price, l.order_fees
      from scoped o left join live_lines l on l.store_id = o.store_id and l.invoice = o.invoice
    ),
    weighed as (
      select lines.*,
             ${weights(invoice, sql`order_code, line_no`, "inv")},
             ${weights(order, sql`line_no`, "ord")}
      from lines
    ),
    facts as (
      select sku as key, store_id, invoice, outcome <> 'cancelled' as counted, ${sql.join(lineAmounts, sql`, `)},
             case when order_code is null then supplier_cost else line_cost + ${share(sql`order_fees`, "ord")} end::bigint
               as supplier_cost,
             case when outcome <> 'missing_settlement' then 0
                  when order_code is null then expected else line_price end::bigint as unsettled
      from weighed
    )`;
}
