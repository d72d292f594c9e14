/**
 * One reconcile chunk as one SQL statement: the outcome of every invoice of its range,
 * decided in the database by the rules' order of precedence (docs/data.md,
 * "Reconcile"), written as the run's results and as the invoices' current outcomes,
 * and summed per (store, outcome) for the run's live counts. Only those sums come back
 * to Node.
 */
import { type SQL, sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import type { ChunkWork } from "../jobs/types.js";
import { type RECONCILE_OUTCOMES } from "../db/schema.js";
import { AGING_BUCKETS, type ReconcileParams, type ReconcilePayload } from "./params.js";
import { invoiceHaving, jakartaDay, keyRange, orphanFilter, purchaseClass, storeFilter } from "./scope.js";

export type ReconcileOutcome = (typeof RECONCILE_OUTCOMES)[number];

/** A chunk's sums for one (store, outcome). */
type OutcomeSums = {
  store_id: number;
  outcome: ReconcileOutcome;
  invoices: number;
  split_invoices: number;
  expected: string;
  actual: string;
  diff: string;
  /** Missing settlements by aging bucket (AGING_BUCKETS order). */
  aging: number[];
};

/**
 * The settlement's amounts an invoice's current outcome keeps for the margin report
 * ([outcome column, settlements column]; 0 without a settlement), then the supplier's cost.
 */
const SETTLEMENT_AMOUNTS = [
  ["gross_sales", "gross_product_price"],
  ["admin_fee", "admin_fee"],
  ["service_fee", "service_fee"],
  ["ams_commission", "ams_commission"],
  ["program_fee", "program_fee"],
  ["campaign_fee", "campaign_fee"],
  ["seller_voucher", "seller_voucher"],
  ["net_payout", "net_payout"],
  ["refunds", "buyer_refund"],
] as const;
export const MARGIN_AMOUNTS = [...SETTLEMENT_AMOUNTS.map(([column]) => column), "supplier_cost"] as const;
const MARGIN_AMOUNT_LIST = sql.raw(MARGIN_AMOUNTS.join(", "));
const settlementAmounts = sql.raw(
  SETTLEMENT_AMOUNTS.map(([column, source]) => `coalesce(s.${source}, 0)::bigint as ${column}`).join(", "),
);

/** Decides, writes and counts the chunk's range, in `tx` (the chunk's commit). */
export async function decideRange(
  tx: Database,
  run: { jobId: string; params: ReconcileParams },
  range: ReconcilePayload,
): Promise<ChunkWork<ReconcilePayload>> {
  const decided = range.range === "invoices" ? decidedInvoices(run.params, range) : decidedOrphans(run.params, range);
  const sums = await queryRows<OutcomeSums>(tx, writeAndSum(run, decided));
  return workOf(sums);
}

/** (store_id, invoice, outcome, expected, actual, split_invoice, order_date) of the range's invoices. */
function decidedInvoices(params: ReconcileParams, range: ReconcilePayload): SQL {
  // Each order's price is an index lookup of its lines, not a join of two aggregates:
  // the planner estimates a keyset range over (store, invoice) badly (one row where there
  // are 20,000), and a nested loop over two aggregates it thinks tiny is quadratic.
  return sql`
    orders as (
      select p.store_id, p.invoice, p.ordered_at, ${purchaseClass} as class, lp.price,
             lp.cost + p.other_fee + p.partner_fee as supplier_cost
      from purchases p
      cross join lateral (
        select coalesce(sum(l.line_price), 0) as price, coalesce(sum(l.line_cost), 0) as cost
        from purchase_lines l where l.order_code = p.order_code
      ) lp
      where ${keyRange(sql`p.store_id`, sql`p.invoice`, range)} and ${storeFilter(params, sql`p.store_id`)}
    ),
    invoices as (
      select p.store_id, p.invoice, count(*) as orders,
             ${jakartaDay(sql`min(p.ordered_at)`)} as order_date,
             bool_or(p.class = 'returned') as any_returned,
             bool_and(p.class = 'cancelled') as all_cancelled,
             bool_or(p.class = 'completed') as any_completed,
             coalesce(sum(p.price) filter (where p.class <> 'cancelled'), 0)::bigint as expected,
             coalesce(sum(p.supplier_cost) filter (where p.class <> 'cancelled'), 0)::bigint as supplier_cost
      from orders p
      group by p.store_id, p.invoice
      having ${invoiceHaving(params, sql`p.class`)}
    ),
    decided as (
      select i.store_id, i.invoice, i.expected, s.gross_product_price as actual, i.orders > 1 as split_invoice, i.order_date,
             ${settlementAmounts}, i.supplier_cost,
             case
               when i.any_returned or coalesce(s.buyer_refund, 0) <> 0 then 'returned'
               when i.all_cancelled and s.order_sn is null then 'cancelled'
               when s.order_sn is not null and abs(s.gross_product_price - i.expected) <= ${params.tolerance}::bigint then 'matched'
               when s.order_sn is not null then 'amount_mismatch'
               when i.any_completed then 'missing_settlement'
               else 'in_progress'
             end as outcome
      from invoices i
      left join settlements s on s.store_id = i.store_id and s.order_sn = i.invoice
    )`;
}

function decidedOrphans(params: ReconcileParams, range: ReconcilePayload): SQL {
  return sql`
    decided as (
      select s.store_id, s.order_sn as invoice, null::bigint as expected, s.gross_product_price as actual,
             false as split_invoice, s.ordered_on as order_date, ${settlementAmounts}, 0::bigint as supplier_cost,
             'orphan_settlement' as outcome
      from settlements s
      where ${keyRange(sql`s.store_id`, sql`s.order_sn`, range)} and ${orphanFilter(params)}
    )`;
}

/**
 * The results insert, the current-outcome upsert and the sums, over `decided`. A newer
 * run's outcome is never replaced by an older run's (job ids are time-ordered uuidv7),
 * so two overlapping runs leave the newer one's outcomes whichever commits last.
 */
function writeAndSum(run: { jobId: string; params: ReconcileParams }, decided: SQL): SQL {
  const aging = AGING_BUCKETS.map((bucket, i) => {
    const lower = i === 0 ? null : AGING_BUCKETS[i - 1]?.upTo;
    const age = sql`(${run.params.as_of}::date - order_date)`;
    const conditions = [sql`outcome = 'missing_settlement'`];
    if (lower !== null && lower !== undefined) conditions.push(sql`${age} > ${lower}`);
    if (bucket.upTo !== null) conditions.push(sql`${age} <= ${bucket.upTo}`);
    return sql`count(*) filter (where ${sql.join(conditions, sql` and `)})::int`;
  });
  return sql`
    with ${decided},
    results as (
      insert into reconcile_results (job_id, store_id, invoice, outcome, expected, actual, diff, split_invoice, order_date)
      select ${run.jobId}::uuid, store_id, invoice, outcome, expected, actual, actual - expected, split_invoice, order_date
      from decided
      on conflict (job_id, store_id, invoice) do update set
        outcome = excluded.outcome, expected = excluded.expected, actual = excluded.actual, diff = excluded.diff,
        split_invoice = excluded.split_invoice, order_date = excluded.order_date
      returning store_id, outcome, expected, actual, diff, split_invoice, order_date
    ),
    current_outcomes as (
      insert into reconcile_outcomes (store_id, invoice, outcome, expected, actual, diff, split_invoice, order_date,
                                      ${MARGIN_AMOUNT_LIST}, job_id, decided_at)
      select store_id, invoice, outcome, expected, actual, actual - expected, split_invoice, order_date,
             ${MARGIN_AMOUNT_LIST}, ${run.jobId}::uuid, now()
      from decided
      order by store_id, invoice
      on conflict (store_id, invoice) do update set
        outcome = excluded.outcome, expected = excluded.expected, actual = excluded.actual, diff = excluded.diff,
        split_invoice = excluded.split_invoice, order_date = excluded.order_date,
        ${sql.raw(MARGIN_AMOUNTS.map((column) => `${column} = excluded.${column}`).join(", "))},
        job_id = excluded.job_id, decided_at = excluded.decided_at
      where reconcile_outcomes.job_id <= excluded.job_id
    )
    select store_id, outcome, count(*)::int as invoices, count(*) filter (where split_invoice)::int as split_invoices,
           coalesce(sum(expected), 0)::text as expected, coalesce(sum(actual), 0)::text as actual,
           coalesce(sum(diff), 0)::text as diff,
           array[${sql.join(aging, sql`, `)}] as aging
    from results
    group by store_id, outcome`;
}

/** The chunk's counters: per outcome its count and amounts, aging and split invoices; the same per store. */
function workOf(sums: OutcomeSums[]): ChunkWork<ReconcilePayload> {
  const counters: Record<string, number> = {};
  const countsByKey: Record<string, Record<string, number>> = {};
  let decided = 0;
  for (const row of sums) {
    const counts = outcomeCounters(row);
    decided += row.invoices;
    const perStore = (countsByKey[String(row.store_id)] ??= {});
    for (const [name, value] of Object.entries(counts)) {
      counters[name] = (counters[name] ?? 0) + value;
      perStore[name] = (perStore[name] ?? 0) + value;
    }
  }
  return { rowsDone: decided, rowsFailed: 0, counters, countsByKey };
}

function outcomeCounters(row: OutcomeSums): Record<string, number> {
  const counts: Record<string, number> = {
    [row.outcome]: row.invoices,
    [`${row.outcome}_expected`]: Number(row.expected),
    [`${row.outcome}_actual`]: Number(row.actual),
    [`${row.outcome}_diff`]: Number(row.diff),
    split_invoices: row.split_invoices,
  };
  AGING_BUCKETS.forEach((bucket, i) => {
    const n = row.aging[i] ?? 0;
    if (n > 0) counts[agingCounter(bucket.name)] = n;
  });
  return counts;
}

/** The counter of an aging bucket: `aging_0_7`, `aging_31_plus`. */
export const agingCounter = (bucket: string): string => `aging_${bucket.replace("-", "_").replace("+", "_plus")}`;
