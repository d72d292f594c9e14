/**
 * The write both upserts share (purchases.ts, settlements.ts): rows ranked by their
 * source, written set-based, counted once per import.
 *
 * Which version wins: the highest source rank (import job, file position, line), so
 * the data does not depend on the order chunks commit in.
 *
 * What an import counts (README, "Import counters"): every distinct row (order,
 * settlement) exactly once, by its final version in the import (its highest rank)
 * against what the database held before the import: `inserted` (it did not exist),
 * `updated` (other content), `unchanged` (the same content, or a later import already
 * holds a newer version). A block superseded by a higher-ranked block of the same
 * import is not counted again, whatever the chunking and the commit order. For that
 * the stored row remembers what its last import found before writing it
 * (`job_prior_hash`; a row that import inserted has `first_job_id` = `last_job_id`): a
 * chunk that finds its own import's earlier write takes back the count that write made
 * and counts its version against the same prior content; a chunk holding a lower rank
 * than its import's stored version counts nothing. One chunk's figures may therefore
 * be negative; the import's totals are not.
 *
 * Known edge, only with two imports of the same rows running at once: each may count
 * a row, and when a later import writes a row first, every block of the earlier one
 * holding it counts `unchanged` (it writes nothing, so nothing records the count).
 *
 * Statements, whatever the chunk size: (1) insert the absent rows, `on conflict do
 * nothing`, over the keys sorted: the rows it returns are this chunk's inserts, and it
 * waits on any a concurrent transaction inserted but had not committed; (2) lock every
 * other row of the chunk, `for update` in key order: each is now visible (a concurrent
 * insert has committed by then) and stays as read; (3) decide in memory; (4) one update
 * for the rows whose content changes, one for those whose rank alone does.
 *
 * No deadlock: step 1 waits only on other transactions' inserts, in the same sorted
 * order in all of them, and takes no lock on a row that exists; step 2 locks in the
 * same order in all of them, and never meets a row another transaction inserted and
 * still holds (had that insert come first, this one's step 1 would have waited for
 * it to end; had it come later, it would have conflicted with this one's row).
 */
import { type SQL, sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import { compareRank, type SourceRank, type TakenBack, type UpsertCounts, type WriteReport } from "./model.js";

const p = (values: unknown[]) => sql.param(values);

/** One column a write sets: its name, its Postgres type, and its value for a row. */
export interface Column<Row> {
  name: string;
  type: string;
  value: (row: Row) => unknown;
}

/** The table a write goes to and how its rows map onto it. Names are the callers' constants. */
export interface RankedTable<Row> {
  table: string;
  /** Key columns every row of one write shares (a settlement's store), with their value. */
  fixed: Array<{ name: string; type: string; value: unknown }>;
  /** The text key, unique within the fixed columns (`order_code`, `order_sn`). */
  key: { name: string; value: (row: Row) => string };
  /** Every other column the write sets, but content_hash, the rank and the job columns. */
  content: Array<Column<Row>>;
  rank: (row: Row) => SourceRank;
  contentHash: (row: Row) => string;
}

type CountClass = keyof UpsertCounts;

/** A stored row, locked. */
export interface StoredVersion {
  contentHash: string;
  rank: SourceRank;
  /** first_job_id is this import: it inserted the row. */
  insertedByJob: boolean;
  /** last_job_id is this import: one of its chunks counted the row already. */
  writtenByJob: boolean;
  jobPriorHash: string | null;
}

export interface Decision {
  /** `full`: the content and the rank; `rank`: the same content, the higher rank only. */
  write: "none" | "rank" | "full";
  /** job_prior_hash to store with the write. */
  jobPriorHash: string | null;
  /** The class the chunk counts, and the class it takes back (an earlier chunk's count). */
  count: CountClass | null;
  retract: CountClass | null;
  /** The file position of the version taken back (its count belongs to that file's chunk). */
  retractFile: number | null;
}

/** `prior` null: the row did not exist before this import. */
function classOf(contentHash: string, prior: string | null): CountClass {
  if (prior === null) return "inserted";
  return contentHash === prior ? "unchanged" : "updated";
}

/** What a chunk does with its version of a row that exists (one it just inserted is `inserted`). */
export function decide(incoming: { rank: SourceRank; contentHash: string }, stored: StoredVersion): Decision {
  const higher = compareRank(incoming.rank, stored.rank) > 0;
  const sameContent = incoming.contentHash === stored.contentHash;
  if (!stored.writtenByJob) {
    // This import meets the row for the first time: what is stored is what it held before.
    if (!higher) return { write: "none", jobPriorHash: null, count: "unchanged", retract: null, retractFile: null };
    return {
      write: sameContent ? "rank" : "full",
      jobPriorHash: stored.contentHash,
      count: sameContent ? "unchanged" : "updated",
      retract: null,
      retractFile: null,
    };
  }
  // An earlier chunk of this import wrote the row and counted it: a lower block is superseded.
  if (!higher) return { write: "none", jobPriorHash: stored.jobPriorHash, count: null, retract: null, retractFile: null };
  // A row this import wrote, but did not insert, with no prior recorded: only an import
  // running across migration 0004 (which added job_prior_hash) leaves one. Its earlier
  // count is taken as unchanged.
  const prior = stored.insertedByJob ? null : (stored.jobPriorHash ?? stored.contentHash);
  return {
    write: sameContent ? "rank" : "full",
    jobPriorHash: stored.jobPriorHash,
    count: classOf(incoming.contentHash, prior),
    retract: classOf(stored.contentHash, prior),
    // The stored version was written, and counted, by a chunk of its own file.
    retractFile: stored.rank.file,
  };
}

/**
 * A chunk's counters: the rows it inserted, plus each decision's count, less what it
 * takes back; with `takenBack`, also what it takes back by the file that counted it.
 */
export function tally(inserted: number, decisions: Decision[], takenBack?: TakenBack): UpsertCounts {
  const counts: UpsertCounts = { inserted, updated: 0, unchanged: 0 };
  for (const decision of decisions) {
    if (decision.count) counts[decision.count] += 1;
    if (decision.retract) {
      counts[decision.retract] -= 1;
      if (takenBack && decision.retractFile !== null) {
        const file = takenBack.get(decision.retractFile) ?? { inserted: 0, updated: 0, unchanged: 0 };
        file[decision.retract] += 1;
        takenBack.set(decision.retractFile, file);
      }
    }
  }
  return counts;
}

interface Item<Row> {
  row: Row;
  key: string;
  rank: SourceRank;
  hash: string;
}

/**
 * Writes one chunk's rows. `rows` may repeat a key (the same order twice in one
 * chunk): the highest rank wins before anything is written. Returns the counters, the
 * rows whose content was written (inserted or replaced) in key order, and the keys of
 * those replaced.
 */
export async function writeRanked<Row>(
  db: Database,
  table: RankedTable<Row>,
  rows: Row[],
  jobId: string,
  report?: WriteReport,
): Promise<{ counts: UpsertCounts; written: Row[]; replaced: Set<string> }> {
  const latest = new Map<string, { row: Row; rank: SourceRank }>();
  for (const row of rows) {
    const key = table.key.value(row);
    const rank = table.rank(row);
    const current = latest.get(key);
    if (!current || compareRank(rank, current.rank) > 0) latest.set(key, { row, rank });
  }
  const items: Array<Item<Row>> = [...latest.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, { row, rank }]) => ({ row, key, rank, hash: table.contentHash(row) }));
  if (items.length === 0) return { counts: { inserted: 0, updated: 0, unchanged: 0 }, written: [], replaced: new Set() };

  const inserted = new Set(await insertAbsent(db, table, items, jobId));
  const others = items.filter((item) => !inserted.has(item.key));
  const stored = await lockStored(db, table, others, jobId);
  const decisions: Decision[] = [];
  const full: Array<Item<Row> & { prior: string | null }> = [];
  const rankOnly: Array<Item<Row> & { prior: string | null }> = [];
  for (const item of others) {
    const found = stored.get(item.key);
    // Nothing deletes these rows while imports run; a vanished one fails the chunk (retried).
    if (!found) throw new Error(`${table.table} row "${item.key}" vanished while being written`);
    const decision = decide({ rank: item.rank, contentHash: item.hash }, found);
    decisions.push(decision);
    if (decision.write === "full") full.push({ ...item, prior: decision.jobPriorHash });
    else if (decision.write === "rank") rankOnly.push({ ...item, prior: decision.jobPriorHash });
  }
  if (report?.outcomes) {
    others.forEach((item, i) => {
      const count = decisions[i]?.count;
      if (count) report.outcomes?.push({ key: item.key, rank: item.rank, count });
    });
    for (const item of items) if (inserted.has(item.key)) report.outcomes.push({ key: item.key, rank: item.rank, count: "inserted" });
  }
  await updateRows(db, table, full, jobId, true);
  await updateRows(db, table, rankOnly, jobId, false);
  const replaced = new Set(full.map((item) => item.key));
  const writtenKeys = new Set([...inserted, ...replaced]);
  return {
    counts: tally(inserted.size, decisions, report?.takenBack),
    written: items.filter((item) => writtenKeys.has(item.key)).map((item) => item.row),
    replaced,
  };
}

const names = (columns: Array<{ name: string }>) => sql.raw(columns.map((column) => column.name).join(", "));
const arrays = <Row>(columns: Array<Column<Row>>, rows: Row[]) =>
  sql.join(
    columns.map((column) => sql`${p(rows.map(column.value))}::${sql.raw(column.type)}[]`),
    sql`, `,
  );

/** The columns of a full write: key, content, content hash, rank (the unnest's order). */
function rowColumns<Row>(table: RankedTable<Row>): Array<Column<Item<Row>>> {
  return [
    { name: table.key.name, type: "text", value: (item) => item.key },
    ...table.content.map((column) => ({ ...column, value: (item: Item<Row>) => column.value(item.row) })),
    { name: "content_hash", type: "text", value: (item) => item.hash },
    ...rankColumns<Row>(),
  ];
}

function rankColumns<Row>(): Array<Column<Item<Row>>> {
  return [
    { name: "rank_job", type: "bigint", value: (item) => item.rank.job },
    { name: "rank_file", type: "int", value: (item) => item.rank.file },
    { name: "rank_line", type: "int", value: (item) => item.rank.line },
  ];
}

/** The fixed columns as conditions on the table's rows (`t`). */
function fixedMatch<Row>(table: RankedTable<Row>): SQL {
  return sql.join(
    [
      ...table.fixed.map((column) => sql`t.${sql.raw(column.name)} = ${column.value}::${sql.raw(column.type)}`),
      sql`true`,
    ],
    sql` and `,
  );
}

/** Step 1: inserts the absent rows; returns the keys it inserted. */
async function insertAbsent<Row>(db: Database, table: RankedTable<Row>, items: Array<Item<Row>>, jobId: string) {
  const columns = rowColumns(table);
  const fixedValues = table.fixed.map((column) => sql`${column.value}::${sql.raw(column.type)}, `);
  const conflict = sql.raw([...table.fixed.map((column) => column.name), table.key.name].join(", "));
  const rows = await queryRows<{ key: string }>(
    db,
    sql`insert into ${sql.raw(table.table)} (${sql.raw(table.fixed.map((column) => `${column.name}, `).join(""))}${names(columns)},
          first_job_id, last_job_id, updated_at)
        select ${sql.join(fixedValues, sql``)}v.*, ${jobId}::uuid, ${jobId}::uuid, now()
        from unnest(${arrays(columns, items)}) as v
        on conflict (${conflict}) do nothing
        returning ${sql.raw(table.key.name)} as key`,
  );
  return rows.map((row) => row.key);
}

/** Step 2: locks the chunk's rows that already existed, in key order. */
async function lockStored<Row>(
  db: Database,
  table: RankedTable<Row>,
  items: Array<Item<Row>>,
  jobId: string,
): Promise<Map<string, StoredVersion>> {
  if (items.length === 0) return new Map();
  const key = sql.raw(table.key.name);
  const rows = await queryRows<{
    key: string;
    content_hash: string;
    rank_job: string;
    rank_file: number;
    rank_line: number;
    inserted_by_job: boolean;
    written_by_job: boolean;
    job_prior_hash: string | null;
  }>(
    db,
    sql`select t.${key} as key, t.content_hash, t.rank_job::text as rank_job, t.rank_file, t.rank_line,
               t.first_job_id = ${jobId}::uuid as inserted_by_job, t.last_job_id = ${jobId}::uuid as written_by_job,
               t.job_prior_hash
        from ${sql.raw(table.table)} t
        where ${fixedMatch(table)} and t.${key} = any(${p(items.map((item) => item.key))}::text[])
        order by t.${key}
        for update`,
  );
  return new Map(
    rows.map((row) => [
      row.key,
      {
        contentHash: row.content_hash,
        rank: { job: Number(row.rank_job), file: row.rank_file, line: row.rank_line },
        insertedByJob: row.inserted_by_job,
        writtenByJob: row.written_by_job,
        jobPriorHash: row.job_prior_hash,
      },
    ]),
  );
}

/** Step 4: one update for all `items` (locked in step 2): the full row, or the rank alone. */
async function updateRows<Row>(
  db: Database,
  table: RankedTable<Row>,
  items: Array<Item<Row> & { prior: string | null }>,
  jobId: string,
  full: boolean,
): Promise<void> {
  if (items.length === 0) return;
  type Written = Item<Row> & { prior: string | null };
  const keyColumn: Column<Written> = { name: table.key.name, type: "text", value: (item) => item.key };
  const columns: Array<Column<Written>> = [
    ...(full ? rowColumns(table) : [keyColumn, ...rankColumns<Row>()]),
    { name: "job_prior_hash", type: "text", value: (item) => item.prior },
  ];
  const set = sql.raw(
    columns
      .slice(1)
      .map((column) => `${column.name} = v.${column.name}`)
      .join(", "),
  );
  await queryRows(
    db,
    sql`update ${sql.raw(table.table)} t set ${set}, last_job_id = ${jobId}::uuid${full ? sql`, updated_at = now()` : sql``}
        from unnest(${arrays(columns, items)}) as v(${names(columns)})
        where ${fixedMatch(table)} and t.${sql.raw(table.key.name)} = v.${sql.raw(table.key.name)}`,
  );
}
