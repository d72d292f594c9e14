-- The baseline of `npm run bench:reconcile` (bench/reconcile.ts): the outcome of every
-- (store, invoice) over every store and date, decided the way a hand-written report
-- would, with ONE SQL statement in one session, on the same Postgres server and the
-- same database as the reconcile run it is compared with (the same purchases,
-- purchase_lines and settlements, freshly vacuumed and analysed).
--
-- The rules are reconcile's (docs/data.md, "Reconcile"; lib/reconcile/decide.ts), written
-- out by hand here, tolerance 0:
--   - an invoice is a (store_id, invoice) with at least one purchase; expected = Σ
--     line_price over its purchases that are not cancelled; actual = its settlement's
--     gross_product_price (settlements.order_sn = purchases.invoice in the same store);
--     diff = actual − expected; split_invoice = more than one purchase; order_date = its
--     earliest purchase's ordered_at as a day in Asia/Jakarta;
--   - a settlement whose invoice has no purchase in its store is an orphan:
--     expected null, order_date = the settlement's ordered_on;
--   - the outcome is the first that applies of orphan_settlement, returned (a purchase
--     returned, or a buyer refund on the settlement), cancelled (every purchase
--     cancelled, no settlement), matched, amount_mismatch, missing_settlement (a
--     purchase completed, no settlement), in_progress;
--   - the status classes are the table of lib/reconcile/status-classes.ts (status
--     trimmed, runs of whitespace as one space, lower case), copied here: keep them in
--     step (the bench compares every result with the run's, so a drift shows as a FAIL).
--
-- The results go to `baseline_results`, a table made like `reconcile_results` (same
-- columns, primary key (job_id, store_id, invoice), the (job_id, outcome, store_id,
-- invoice) index, the outcome check, and the same two foreign keys: to jobs, with the
-- reconcile run's id as job_id, and to stores).
--
-- What it does not do, compared with the run (so the ratio is, if anything, kind to the
-- baseline):
--   - the run also upserts every outcome into `reconcile_outcomes` (the invoices'
--     current outcomes, one more table with its own primary key and index, guarded so
--     an older run never replaces a newer one's) and sums counts and amounts per
--     (store, outcome) and missing settlements by age for its live status; this writes
--     the results only;
--   - no plan, no chunks, no queue, no progress, no retries: one statement, one
--     transaction, one backend (Postgres 15 runs no parallel workers under an INSERT),
--     with room to hash everything in memory (work_mem below; the run's chunks use the
--     server's default).
--
-- bench/reconcile.ts runs the part before the TIMED marker (not timed), then times the
-- statement after it, sent alone (extended protocol: exactly one statement) with $1 =
-- the reconcile run's job id.

set work_mem = '256MB';
drop table if exists baseline_results;
create table baseline_results (like reconcile_results including all);
alter table baseline_results
  add foreign key (job_id) references jobs (id) on delete cascade,
  add foreign key (store_id) references stores (id);

-- ==== TIMED: the statement below ====

insert into baseline_results (job_id, store_id, invoice, outcome, expected, actual, diff, split_invoice, order_date)
with classed as (
  select p.order_code, p.store_id, p.invoice, p.ordered_at,
         case lower(regexp_replace(btrim(p.status, e' \t\r\n'), '\s+', ' ', 'g'))
           when 'pesanan selesai' then 'completed'
           when 'selesai' then 'completed'
           when 'pesanan dibatalkan' then 'cancelled'
           when 'dibatalkan' then 'cancelled'
           when 'batal' then 'cancelled'
           when 'pesanan dikembalikan' then 'returned'
           when 'dikembalikan' then 'returned'
           when 'pengembalian' then 'returned'
           else 'in_progress'
         end as class
  from purchases p
),
prices as (
  select order_code, sum(line_price) as price
  from purchase_lines
  group by order_code
),
invoices as (
  select c.store_id, c.invoice, count(*) as orders,
         (min(c.ordered_at) at time zone 'Asia/Jakarta')::date as order_date,
         bool_or(c.class = 'returned') as any_returned,
         bool_and(c.class = 'cancelled') as all_cancelled,
         bool_or(c.class = 'completed') as any_completed,
         coalesce(sum(pr.price) filter (where c.class <> 'cancelled'), 0)::bigint as expected
  from classed c
  left join prices pr on pr.order_code = c.order_code
  group by c.store_id, c.invoice
),
decided as (
  select i.store_id, i.invoice, i.expected, s.gross_product_price as actual, i.orders > 1 as split_invoice, i.order_date,
         case
           when i.any_returned or coalesce(s.buyer_refund, 0) <> 0 then 'returned'
           when i.all_cancelled and s.order_sn is null then 'cancelled'
           when s.order_sn is not null and s.gross_product_price = i.expected then 'matched'
           when s.order_sn is not null then 'amount_mismatch'
           when i.any_completed then 'missing_settlement'
           else 'in_progress'
         end as outcome
  from invoices i
  left join settlements s on s.store_id = i.store_id and s.order_sn = i.invoice
  union all
  select s.store_id, s.order_sn, null::bigint, s.gross_product_price, false, s.ordered_on, 'orphan_settlement'
  from settlements s
  where not exists (select 1 from purchases p where p.store_id = s.store_id and p.invoice = s.order_sn)
)
select $1::uuid, store_id, invoice, outcome, expected, actual, actual - expected, split_invoice, order_date
from decided
