/**
 * What a job's chunks amounted to, for the kinds that keep something beside the job
 * (an import's file statuses and counts): the engine's `job_chunks` is read here and
 * nowhere outside lib/jobs.
 */
import { sql } from "drizzle-orm";
import type { z } from "zod";
import { type Database, queryRows } from "../db/client.js";
import type { ChunkStatus } from "../db/schema.js";

export interface ChunkReport<Payload> {
  chunk: number;
  status: ChunkStatus;
  /** As the kind planned it, parsed with the schema the reader gives. */
  payload: Payload;
  rowsDone: number;
  rowsFailed: number;
  counters: Record<string, number>;
  countsByKey: Record<string, Record<string, number>>;
}

/** Every chunk of the job with its outcome so far (pending ones included), in chunk order. */
export async function chunkOutcomes<Payload>(
  db: Database,
  jobId: string,
  payload: z.ZodType<Payload>,
): Promise<Array<ChunkReport<Payload>>> {
  const rows = await queryRows<Omit<ChunkReport<unknown>, "payload"> & { payload: unknown }>(
    db,
    sql`select chunk, status, payload, rows_done as "rowsDone", rows_failed as "rowsFailed",
               counters, counts_by_key as "countsByKey"
        from job_chunks where job_id = ${jobId} order by chunk`,
  );
  return rows.map((row) => ({ ...row, payload: payload.parse(row.payload) }));
}

/** The kind's counters summed over the chunks committed so far (a running job's counts). */
export async function chunkCounterSums(db: Database, jobId: string): Promise<Record<string, number>> {
  const sums = await queryRows<{ name: string; total: string }>(
    db,
    sql`select kv.key as name, sum(kv.value::bigint)::text as total
        from job_chunks c, jsonb_each_text(c.counters) kv where c.job_id = ${jobId} group by kv.key`,
  );
  return Object.fromEntries(sums.map((row) => [row.name, Number(row.total)]));
}

/** ChunkWork.countsByKey summed over the job's chunks: key -> counter -> total. */
export function sumCountsByKey(
  outcomes: ReadonlyArray<Pick<ChunkReport<unknown>, "countsByKey">>,
): Record<string, Record<string, number>> {
  const sums: Record<string, Record<string, number>> = {};
  for (const { countsByKey } of outcomes) {
    for (const [key, counts] of Object.entries(countsByKey)) {
      const into = (sums[key] ??= {});
      for (const [name, value] of Object.entries(counts)) into[name] = (into[name] ?? 0) + Number(value);
    }
  }
  return sums;
}
