-- The baseline of `npm run bench:import` (bench/import.ts): the same purchase files
-- loaded the way a hand-written ETL would, with plain Postgres, into the same
-- tables (`purchases`, `purchase_lines`: the real ones, created by our migrations in
-- a database of their own on the same server, with the same column types, keys,
-- indexes, checks and foreign keys).
--
-- What it does:
--   1. COPY every file, in name order, into an unlogged staging table of 27 text
--      columns (CSV mode, the file's own delimiter). bench/baseline-copy.ts feeds
--      COPY ... FROM STDIN and drops before COPY what COPY cannot parse at all: the
--      BOM, blank lines, records whose field count is not 27, and records with a
--      quote COPY would misread (a quote inside an unquoted field, a quoted field
--      never closed); those are skipped to the next line, not reported.
--   2. In one transaction, set-based:
--      - skips header lines (the first and any repeated one), delimiter-only rows,
--        totals lines, and every row whose values would not convert (a date that is
--        not `DD Month YYYY, HH:MM:SS`, an amount that is not whole rupiah, a qty
--        that is not a positive integer, an empty order code, SKU or invoice): a
--        WHERE clause, so such rows just vanish;
--      - strips the leading `'` Excel guard of the codes, reads dates in Asia/Jakarta;
--      - cuts the rows into blocks of consecutive rows with one order code and keeps
--        each order's LAST block (a later file, or a later block of the same file,
--        wins: what the import does by source rank);
--      - takes the order's fields from the block's first row and each order amount
--        from the first row where it is not zero (money on the first line only);
--      - creates the stores it sees; INSERT ... ON CONFLICT (order_code) DO UPDATE
--        into purchases; replaces the orders' lines (delete, then insert with
--        line_no 1..n) in purchase_lines.
--
-- What it does not do, compared with the real import (lib/imports):
--   - no per-row validation messages and no row errors (nothing in
--     import_row_errors), no warnings (total_mismatch, repeated_order), and lines
--     that disagree with their order's store or invoice (conflicting_order) are kept;
--   - no source rank (rank_* are 0) and no content hash worth the name (an md5 of
--     the order's fields, lines not included), so "unchanged" orders cannot be told
--     from updated ones, and a second import running at the same time would not be
--     ordered: it is one process, one session, files strictly in name order;
--   - cross-file repeats are resolved in the staging table before anything is
--     written (each order written once), where the import writes each version it
--     meets, chunk by chunk, and replaces it when a later one comes;
--   - no header mapping (the columns must be in the export's order), no lenient
--     amounts, no job, chunks, retries, progress, object storage or queue: the files
--     are read from local disk by the benchmark process.
--
-- It runs in ONE session, so one Postgres backend, one CPU core (the import spreads over
-- its workers and as many backends). bench/import.ts runs the part before the COPY
-- marker, COPYs the files, then runs the part after it statement by statement (the same
-- session, the same transaction), timing each.

drop table if exists bench_staging;
create unlogged table bench_staging (
  seq bigint generated always as identity,
  no text, ordered_at text, status text, order_code text, transaction_code text, sku text,
  product_name text, unit_cost text, qty text, line_cost text, other_fee text, partner_fee text,
  order_total text, unit_price text, line_price text, line_margin text, created_by text,
  channel text, store text, invoice text, warehouse text, courier text, cashless text,
  waybill text, shipped_at text, province text, city text
);

-- ==== COPY each file into bench_staging here ====

-- Statistics of what was loaded, so the planner sizes its hash tables and sorts.
analyze bench_staging;

begin;
-- Room for the sorts of a million rows in memory (the default of 4 MB spills them to disk);
-- no Memoize nodes on the per-row subqueries below (their keys are the whole row: a cache
-- of hundreds of MB that never hits); dates are Asia/Jakarta wall time.
set local work_mem = '256MB';
set local enable_memoize = off;
set local timezone = 'Asia/Jakarta';

-- Rows that convert, typed, in file order (seq). A value that would not convert is null (CASE
-- guards: Postgres may evaluate WHERE conditions in any order), and its row is left out.
-- Each `lateral (... offset 0)` is evaluated once per row: without the fence, the planner
-- would pull the subquery up and repeat its expressions (the regexes) at every use.
create temp table bench_rows on commit drop as
select s.seq, t.*
from bench_staging s
cross join lateral (
  -- `DD Month YYYY, HH:MM:SS` -> {DD, Month, YYYY, HH, MM, SS} and the month's number; null
  -- when not that shape.
  select case when s.ordered_at ~ '^ *\d{1,2} [A-Za-z]+ \d{4},? \d{1,2}:\d{2}:\d{2} *$'
              then string_to_array(translate(btrim(s.ordered_at), ':,', ' '), ' ') end as od,
         case when s.shipped_at ~ '^ *\d{1,2} [A-Za-z]+ \d{4},? \d{1,2}:\d{2}:\d{2} *$'
              then string_to_array(translate(btrim(s.shipped_at), ':,', ' '), ' ') end as sd,
         array_position('{january,february,march,april,may,june,july,august,september,october,november,december}'::text[],
                        lower(split_part(btrim(s.ordered_at), ' ', 2))) as om,
         array_position('{january,february,march,april,may,june,july,august,september,october,november,december}'::text[],
                        lower(split_part(btrim(s.shipped_at), ' ', 2))) as sm
  offset 0
) r
cross join lateral (
  select
      nullif(btrim(ltrim(btrim(s.order_code), '''')), '') as order_code,
      nullif(btrim(ltrim(btrim(s.transaction_code), '''')), '') as transaction_code,
      nullif(btrim(s.sku), '') as sku,
      nullif(btrim(s.product_name), '') as product_name,
      coalesce(btrim(s.status), '') as status,
      coalesce(btrim(s.channel), '') as channel,
      regexp_replace(btrim(coalesce(s.store, '')), '\s+', ' ', 'g') as store,
      nullif(btrim(ltrim(btrim(s.invoice), '''')), '') as invoice,
      nullif(btrim(s.created_by), '') as created_by,
      nullif(btrim(s.warehouse), '') as warehouse,
      nullif(btrim(s.courier), '') as courier,
      case lower(btrim(s.cashless)) when 'ya' then true when 'yes' then true when 'tidak' then false when 'no' then false end as cashless,
      nullif(btrim(ltrim(btrim(s.waybill), '''')), '') as waybill,
      nullif(btrim(s.province), '') as province,
      nullif(btrim(s.city), '') as city,
      case
        when r.om is null or r.od[3]::int = 0 then null
        when r.od[4]::int > 23 or r.od[5]::int > 59 or r.od[6]::int > 59 then null
        when r.od[1]::int not between 1 and extract(day from make_date(r.od[3]::int, r.om, 1) + interval '1 month - 1 day') then null
        else make_timestamptz(r.od[3]::int, r.om, r.od[1]::int, r.od[4]::int, r.od[5]::int, r.od[6]::int)
      end as ordered_at,
      nullif(btrim(s.shipped_at), '') is not null as shipped_given,
      case
        when r.sm is null or r.sd[3]::int = 0 then null
        when r.sd[4]::int > 23 or r.sd[5]::int > 59 or r.sd[6]::int > 59 then null
        when r.sd[1]::int not between 1 and extract(day from make_date(r.sd[3]::int, r.sm, 1) + interval '1 month - 1 day') then null
        else make_timestamptz(r.sd[3]::int, r.sm, r.sd[1]::int, r.sd[4]::int, r.sd[5]::int, r.sd[6]::int)
      end as shipped_at,
      case when btrim(s.qty) ~ '^\d{1,9}$' then btrim(s.qty)::int end as qty,
      case when s.unit_cost is null or s.unit_cost = '' then 0
           when length(s.unit_cost) <= 15 and translate(s.unit_cost, '0123456789', '') = '' then s.unit_cost::bigint
           when btrim(s.unit_cost) = '' then 0
           when btrim(s.unit_cost) ~ '^-?\d{1,15}(\.0{1,2})?$' then split_part(btrim(s.unit_cost), '.', 1)::bigint end as unit_cost,
      case when s.line_cost is null or s.line_cost = '' then 0
           when length(s.line_cost) <= 15 and translate(s.line_cost, '0123456789', '') = '' then s.line_cost::bigint
           when btrim(s.line_cost) = '' then 0
           when btrim(s.line_cost) ~ '^-?\d{1,15}(\.0{1,2})?$' then split_part(btrim(s.line_cost), '.', 1)::bigint end as line_cost,
      case when s.unit_price is null or s.unit_price = '' then 0
           when length(s.unit_price) <= 15 and translate(s.unit_price, '0123456789', '') = '' then s.unit_price::bigint
           when btrim(s.unit_price) = '' then 0
           when btrim(s.unit_price) ~ '^-?\d{1,15}(\.0{1,2})?$' then split_part(btrim(s.unit_price), '.', 1)::bigint end as unit_price,
      case when s.line_price is null or s.line_price = '' then 0
           when length(s.line_price) <= 15 and translate(s.line_price, '0123456789', '') = '' then s.line_price::bigint
           when btrim(s.line_price) = '' then 0
           when btrim(s.line_price) ~ '^-?\d{1,15}(\.0{1,2})?$' then split_part(btrim(s.line_price), '.', 1)::bigint end as line_price,
      case when s.line_margin is null or s.line_margin = '' then 0
           when length(s.line_margin) <= 15 and translate(s.line_margin, '0123456789', '') = '' then s.line_margin::bigint
           when btrim(s.line_margin) = '' then 0
           when btrim(s.line_margin) ~ '^-?\d{1,15}(\.0{1,2})?$' then split_part(btrim(s.line_margin), '.', 1)::bigint end as line_margin,
      case when s.other_fee is null or s.other_fee = '' then 0
           when length(s.other_fee) <= 15 and translate(s.other_fee, '0123456789', '') = '' then s.other_fee::bigint
           when btrim(s.other_fee) = '' then 0
           when btrim(s.other_fee) ~ '^-?\d{1,15}(\.0{1,2})?$' then split_part(btrim(s.other_fee), '.', 1)::bigint end as other_fee,
      case when s.partner_fee is null or s.partner_fee = '' then 0
           when length(s.partner_fee) <= 15 and translate(s.partner_fee, '0123456789', '') = '' then s.partner_fee::bigint
           when btrim(s.partner_fee) = '' then 0
           when btrim(s.partner_fee) ~ '^-?\d{1,15}(\.0{1,2})?$' then split_part(btrim(s.partner_fee), '.', 1)::bigint end as partner_fee,
      case when s.order_total is null or s.order_total = '' then 0
           when length(s.order_total) <= 15 and translate(s.order_total, '0123456789', '') = '' then s.order_total::bigint
           when btrim(s.order_total) = '' then 0
           when btrim(s.order_total) ~ '^-?\d{1,15}(\.0{1,2})?$' then split_part(btrim(s.order_total), '.', 1)::bigint end as order_total
  offset 0
) t
where coalesce(btrim(s.order_code), '') not in ('', 'Kode Pesanan')
  and t.order_code is not null and t.sku is not null and t.invoice is not null and t.ordered_at is not null
  and (not t.shipped_given or t.shipped_at is not null)
  and t.qty > 0
  and t.unit_cost is not null and t.line_cost is not null and t.unit_price is not null and t.line_price is not null
  and t.line_margin is not null and t.other_fee is not null and t.partner_fee is not null and t.order_total is not null;

-- Blocks of consecutive rows of one order; each order's last block wins. The window work
-- runs on (seq, order_code) only: sorting the wide rows would spill to disk.
create temp table bench_won on commit drop as
with keys as (
  select seq, order_code, sum(starts) over (order by seq) as block
  from (select seq, order_code, (order_code is distinct from lag(order_code) over (order by seq))::int as starts
        from bench_rows) k
),
last_block as (
  select order_code, max(block) as block from keys group by order_code
),
won as (
  select k.seq, k.block, row_number() over (partition by k.block order by k.seq) as line_no
  from keys k join last_block l on l.block = k.block
)
select r.*, w.block, w.line_no from bench_rows r join won w on w.seq = r.seq;

-- One row per order: the block's first row (line 1), each order amount from its first
-- non-zero line (the least (seq, amount) pair: no sort needed).
create temp table bench_orders on commit drop as
select f.*, m.other_fee_o, m.partner_fee_o, m.order_total_o
from bench_won f
join (
  select block,
    coalesce((min(array[seq, other_fee]) filter (where other_fee <> 0))[2], 0) as other_fee_o,
    coalesce((min(array[seq, partner_fee]) filter (where partner_fee <> 0))[2], 0) as partner_fee_o,
    coalesce((min(array[seq, order_total]) filter (where order_total <> 0))[2], 0) as order_total_o
  from bench_won group by block
) m using (block)
where f.line_no = 1;

insert into stores (name, channel)
select distinct on (lower(store)) store, channel
from (select store, channel, min(seq) as seq from bench_orders group by store, channel) seen
order by lower(store), seq
on conflict do nothing;

-- Each store name once to its id (not a case-folding join per order).
create temp table bench_store_ids on commit drop as
select n.store, st.id from (select distinct store from bench_orders) n join stores st on lower(st.name) = lower(n.store);

insert into purchases (order_code, transaction_code, store_id, channel, invoice, ordered_at, status,
  other_fee, partner_fee, order_total, created_by, warehouse, courier, cashless, waybill, shipped_at,
  province, city, content_hash, rank_job, rank_file, rank_line, first_job_id, last_job_id, updated_at)
select o.order_code, o.transaction_code, st.id, o.channel, o.invoice, o.ordered_at, o.status,
  o.other_fee_o, o.partner_fee_o, o.order_total_o, o.created_by, o.warehouse, o.courier, o.cashless,
  o.waybill, o.shipped_at, o.province, o.city,
  md5(concat_ws(e'\x1f', o.transaction_code, o.store, o.channel, o.invoice, o.ordered_at, o.status,
    o.other_fee_o, o.partner_fee_o, o.order_total_o, o.created_by, o.warehouse, o.courier, o.cashless,
    o.waybill, o.shipped_at, o.province, o.city)),
  0, 0, 0, '00000000-0000-0000-0000-000000000000', '00000000-0000-0000-0000-000000000000', now()
from bench_orders o join bench_store_ids st on st.store = o.store
on conflict (order_code) do update set
  transaction_code = excluded.transaction_code, store_id = excluded.store_id, channel = excluded.channel,
  invoice = excluded.invoice, ordered_at = excluded.ordered_at, status = excluded.status,
  other_fee = excluded.other_fee, partner_fee = excluded.partner_fee, order_total = excluded.order_total,
  created_by = excluded.created_by, warehouse = excluded.warehouse, courier = excluded.courier,
  cashless = excluded.cashless, waybill = excluded.waybill, shipped_at = excluded.shipped_at,
  province = excluded.province, city = excluded.city, content_hash = excluded.content_hash,
  last_job_id = excluded.last_job_id, updated_at = now();

delete from purchase_lines where order_code in (select order_code from bench_orders);

insert into purchase_lines (order_code, line_no, sku, product_name, unit_cost, qty, line_cost,
  unit_price, line_price, line_margin)
select order_code, line_no, sku, product_name, unit_cost, qty, line_cost, unit_price, line_price, line_margin
from bench_won;

commit;

drop table bench_staging;
