/**
 * Job kinds for tests and benchmarks, added to a runtime's catalogue only outside
 * production when DROPFLOW_TEST_JOB_KINDS is on (or directly by a test):
 *  - `test-rows`: each chunk upserts a range of rows into engine_test_rows and
 *    counts inserted / updated / unchanged rows, so duplicate deliveries show up
 *    in the counters if the engine ever lets them through;
 *  - `noop`: each chunk commits nothing but its outcome (the engine's own cost).
 */
import { sql } from "drizzle-orm";
import { z } from "zod";
import { queryRows } from "../lib/db/client.js";
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
    await db.execute(sql`
      create table if not exists engine_test_rows (
        id integer primary key,
        value integer not null,
        job_seq bigint not null
      )`);
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
    return ctx.commit(async (tx) => {
      const ids = Array.from({ length: count }, (_, i) => from + i);
      const values = ids.map((id) => id + params.version);
      // One set-based upsert; xmax = 0 tells an inserted row from an updated one,
      // and rows whose value did not change are not returned at all.
      const written = await queryRows<{ inserted: boolean }>(
        tx,
        sql`insert into engine_test_rows (id, value, job_seq)
            select * from unnest(${sql.param(ids)}::int[], ${sql.param(values)}::int[], array_fill(${ctx.job.seq}::bigint, array[${count}::int]))
            on conflict (id) do update set value = excluded.value, job_seq = excluded.job_seq
              where engine_test_rows.value is distinct from excluded.value
            returning (xmax = 0) as inserted`,
      );
      const inserted = written.filter((row) => row.inserted).length;
      const updated = written.length - inserted;
      return {
        rowsDone: count,
        rowsFailed: 0,
        counters: { rows_inserted: inserted, rows_updated: updated, rows_unchanged: count - written.length },
      };
    });
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
export const TEST_JOB_KINDS: readonly JobKind[] = [testRowsKind, noopKind];
