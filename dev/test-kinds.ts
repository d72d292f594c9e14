/**
 * Job kinds for tests and benchmarks, added to a runtime's catalogue only outside
 * production when DROPFLOW_TEST_JOB_KINDS is on (or directly by a test):
 *  - `test-rows`: each chunk upserts a range of rows into engine_test_rows and
 *    counts inserted / updated / unchanged rows, so duplicate deliveries show up
 *    in the counters if the engine ever lets them through;
 *  - `noop`: each chunk commits nothing but its outcome (the engine's own cost);
 *  - `paged`: a paged upstream whose chunks hand on continuations and add branches.
 */
import { sql } from "drizzle-orm";
import { z } from "zod";
import { type Database, queryRows } from "../lib/db/client.js";
import { ChunkThrottled, defineJobKind, type JobKind, PermanentChunkError } from "../lib/jobs/index.js";

export const TestRowsParams = z.object({
  chunks: z.number().int().min(0).max(100_000),
  rows_per_chunk: z.number().int().min(1).max(10_000).default(10),
  /** First row id, so jobs can write disjoint ranges. */
  offset: z.number().int().min(0).default(0),
  /** Added to every value: run twice with another version to see rows "updated". */
  version: z.number().int().default(1),
  /** These chunks throw a permanent error. */
  fail_chunks: z.array(z.number().int()).default([]),
  /** These chunks throw a transient error on their first N attempts. */
  flaky_chunks: z.array(z.number().int()).default([]),
  flaky_attempts: z.number().int().min(0).default(1),
  /** Milliseconds each chunk spends before committing (to test heartbeats and leases). */
  slow_ms: z.number().int().min(0).default(0),
  /** These chunks answer "throttled, try again in throttle_s" on their first throttle_attempts deliveries. */
  throttle_chunks: z.array(z.number().int()).default([]),
  throttle_attempts: z.number().int().min(0).default(1),
  throttle_s: z.number().min(0).default(1),
  /** An upstream account: jobs of one account share one flow-control key (their rate limit). */
  account: z.string().min(1).max(50).optional(),
});
export type TestRowsParams = z.infer<typeof TestRowsParams>;

const ChunkPayload = z.object({ from: z.number().int(), count: z.number().int() });

export const testRowsKind: JobKind = defineJobKind({
  kind: "test-rows",
  creatableViaApi: true,
  params: TestRowsParams,
  payload: ChunkPayload,
  delivery: {
    flowKey: ({ jobId, params }) => (params.account ? `upstream-${params.account}` : `job-${jobId}`),
  },
  async plan({ params, db }) {
    await createTestRowsTable(db);
    return Array.from({ length: params.chunks }, (_, chunk) => ({
      payload: { from: params.offset + chunk * params.rows_per_chunk, count: params.rows_per_chunk },
      rows: params.rows_per_chunk,
    }));
  },
  async processChunk(ctx) {
    const { params } = ctx;
    const { from, count } = ctx.payload;
    if (params.fail_chunks.includes(ctx.chunk)) throw new PermanentChunkError(`chunk ${ctx.chunk} is marked to fail`);
    if (params.flaky_chunks.includes(ctx.chunk) && ctx.attempt <= params.flaky_attempts) {
      throw new Error(`chunk ${ctx.chunk} fails transiently on attempt ${ctx.attempt}`);
    }
    if (params.throttle_chunks.includes(ctx.chunk) && ctx.attempt <= params.throttle_attempts) {
      throw new ChunkThrottled(params.throttle_s);
    }
    if (params.slow_ms > 0) await new Promise((resolve) => setTimeout(resolve, params.slow_ms));
    return ctx.commit(async (tx) => writeTestRows(tx, from, count, params.version, ctx.job.seq));
  },
});

/**
 * One set-based upsert of rows from..from+count-1 into engine_test_rows, counted as
 * inserted / updated / unchanged: a duplicate delivery the engine let through would
 * show in the counters. xmax = 0 tells an inserted row from an updated one, and rows
 * whose value did not change are not returned at all.
 */
async function writeTestRows(tx: Database, from: number, count: number, version: number, jobSeq: number) {
  const ids = Array.from({ length: count }, (_, i) => from + i);
  const values = ids.map((id) => id + version);
  const written = await queryRows<{ inserted: boolean }>(
    tx,
    sql`insert into engine_test_rows (id, value, job_seq)
        select * from unnest(${sql.param(ids)}::int[], ${sql.param(values)}::int[], array_fill(${jobSeq}::bigint, array[${count}::int]))
        on conflict (id) do update set value = excluded.value, job_seq = excluded.job_seq
          where engine_test_rows.value is distinct from excluded.value
        returning (xmax = 0) as inserted`,
  );
  const inserted = written.filter((row) => row.inserted).length;
  return {
    rowsDone: count,
    rowsFailed: 0,
    counters: { rows_inserted: inserted, rows_updated: written.length - inserted, rows_unchanged: count - written.length },
  };
}

async function createTestRowsTable(db: Database): Promise<void> {
  await db.execute(sql`
    create table if not exists engine_test_rows (
      id integer primary key,
      value integer not null,
      job_seq bigint not null
    )`);
}

const PagedParams = z.object({
  /** Pages in each branch of the paged upstream. */
  pages: z.number().int().min(1).max(10_000),
  rows_per_page: z.number().int().min(1).max(1_000).default(2),
  /** Pages one chunk reads at most before it hands the rest on. */
  pages_per_chunk: z.number().int().min(1).default(1_000),
  /** Milliseconds one page takes to read; with the time budget, makes chunks hand on at their deadline. */
  page_ms: z.number().int().min(0).default(0),
  /** Branches the first chunk finds while reading (each added as a chunk of its own). */
  fan_out: z.number().int().min(0).max(100).default(0),
  offset: z.number().int().min(0).default(0),
  /** Every chunk answers "throttled" on its first delivery (a shared upstream rate limit). */
  throttle_first: z.boolean().default(false),
  /** A job-wide step (the retire sweep of a sync) that hands on once, then is done. */
  final_step: z.boolean().default(false),
  /** The job-wide step fails every time (the queue gives up on it). */
  step_fails: z.boolean().default(false),
  /** These branches fail permanently on their first chunk until the job is retried. */
  fail_branches: z.array(z.number().int()).default([]),
  account: z.string().min(1).max(50).default("paged"),
});
const PagedPayload = z.object({ branch: z.number().int().min(0), cursor: z.number().int().min(0) });

/**
 * `paged`: a paged upstream read page by page. A chunk reads pages from its cursor
 * until pages_per_chunk or its time budget says stop, then hands the rest on as a
 * continuation; the first chunk also finds fan_out more branches. Jobs of one account
 * share a flow-control key. Rows are written like test-rows, so a page written twice
 * or lost shows in the counters.
 */
export const pagedKind: JobKind = defineJobKind({
  kind: "paged",
  creatableViaApi: true,
  openEnded: true,
  params: PagedParams,
  payload: PagedPayload,
  delivery: { flowKey: ({ params }) => `upstream-${params.account}`, parallelism: 4 },
  async plan({ db }) {
    await createTestRowsTable(db);
    await db.execute(sql`create table if not exists engine_test_steps (job_id uuid primary key, runs integer not null)`);
    return [{ payload: { branch: 0, cursor: 0 }, rows: 0 }];
  },
  async finalStep({ job, params, db }) {
    if (params.step_fails) throw new Error("the upstream's retire endpoint is down");
    if (!params.final_step) return "done";
    const [row] = await queryRows<{ runs: number }>(
      db,
      sql`insert into engine_test_steps (job_id, runs) values (${job.id}, 1)
          on conflict (job_id) do update set runs = engine_test_steps.runs + 1 returning runs`,
    );
    return (row?.runs ?? 0) < 2 ? "again" : "done";
  },
  async processChunk(ctx) {
    const { params, payload } = ctx;
    if (params.throttle_first && ctx.attempt === 1) throw new ChunkThrottled(1);
    // Fails until a retry: the retry re-runs this chunk with a later attempt number.
    if (params.fail_branches.includes(payload.branch) && payload.cursor === 0 && ctx.attempt === 1) {
      throw new PermanentChunkError(`branch ${payload.branch} is marked to fail`);
    }
    let cursor = payload.cursor;
    const stop = Math.min(params.pages, cursor + params.pages_per_chunk);
    // Keep two pages' time in hand for the commit.
    while (cursor < stop && (cursor === payload.cursor || ctx.timeLeftMs() > 2 * params.page_ms + 200)) {
      if (params.page_ms > 0) await new Promise((resolve) => setTimeout(resolve, params.page_ms));
      cursor += 1;
    }
    const rowsPerBranch = params.pages * params.rows_per_page;
    const from = params.offset + payload.branch * rowsPerBranch + payload.cursor * params.rows_per_page;
    const count = (cursor - payload.cursor) * params.rows_per_page;
    const next: Array<{ payload: z.infer<typeof PagedPayload>; rows: number }> = [];
    if (cursor < params.pages) next.push({ payload: { branch: payload.branch, cursor }, rows: 0 });
    if (payload.branch === 0 && payload.cursor === 0) {
      for (let branch = 1; branch <= params.fan_out; branch++) next.push({ payload: { branch, cursor: 0 }, rows: 0 });
    }
    return ctx.commit(async (tx) => ({ ...(await writeTestRows(tx, from, count, 1, ctx.job.seq)), next }));
  },
});

const NoopParams = z.object({ chunks: z.number().int().min(0).max(1_000_000) });

export const noopKind: JobKind = defineJobKind({
  kind: "noop",
  creatableViaApi: true,
  params: NoopParams,
  payload: z.object({}),
  async plan({ params }) {
    return Array.from({ length: params.chunks }, () => ({ payload: {}, rows: 1 }));
  },
  async processChunk(ctx) {
    return ctx.commit(async () => ({ rowsDone: 1, rowsFailed: 0 }));
  },
});

/** The kinds a server with DROPFLOW_TEST_JOB_KINDS on adds to its runtime's catalogue. */
export const TEST_JOB_KINDS: readonly JobKind[] = [testRowsKind, noopKind, pagedKind];
