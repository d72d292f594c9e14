/**
 * GET /api/imports/recommendations: how to cut an upcoming import and how long it
 * should take, from what past imports on this deployment actually measured (rows
 * per second and bytes per row), falling back to the benchmark's figures.
 */
import { sql } from "drizzle-orm";
import { z } from "zod";
import { type Database, queryRows } from "../db/client.js";

/** From bench/import.ts and a measured 343 MB, 1 M-row purchase export, used until this deployment has history. */
const FALLBACK_ROWS_PER_S = 5000;
const FALLBACK_BYTES_PER_ROW = 343;

/** The upcoming import: how many files, of how many bytes on average. */
export const RecommendationQuery = z.object({
  file_count: z.coerce.number().int().min(1).max(200),
  avg_file_size: z.coerce.number().int().min(1),
});

export const RecommendationSchema = z.object({
  chunk_rows: z.number().int(),
  expected_rows: z.number().int(),
  expected_chunks: z.number().int(),
  expected_seconds: z.number().int(),
  basis: z
    .object({ rows_per_s: z.number().int(), bytes_per_row: z.number().int(), from_history: z.boolean(), imports_measured: z.number().int() })
    .describe("From the last 50 finished imports of this deployment (from_history), else the benchmark's figures."),
});
export type Recommendation = z.infer<typeof RecommendationSchema>;

export async function recommendImport(
  db: Database,
  input: { fileCount: number; avgFileSize: number },
  limits: { maxDurationMs: number; configuredChunkRows: number },
): Promise<Recommendation> {
  const [history] = await queryRows<{ imports: number; rows: string | null; seconds: string | null; bytes: string | null }>(
    db,
    sql`select count(*)::int as imports,
               sum((j.counters->>'rows_done')::bigint + (j.counters->>'rows_failed')::bigint)::text as rows,
               sum(extract(epoch from (j.finished_at - j.started_at)))::text as seconds,
               (select sum(f.size) from import_files f where f.job_id = any(array_agg(j.id)))::text as bytes
        from (select * from jobs where kind = 'import' and status in ('completed', 'completed_with_errors')
                and started_at is not null and finished_at > started_at
              order by finished_at desc limit 50) j`,
  );
  const rows = Number(history?.rows ?? 0);
  const seconds = Number(history?.seconds ?? 0);
  const bytes = Number(history?.bytes ?? 0);
  const fromHistory = rows > 0 && seconds > 0 && bytes > 0;
  const rowsPerS = fromHistory ? rows / seconds : FALLBACK_ROWS_PER_S;
  const bytesPerRow = fromHistory ? bytes / rows : FALLBACK_BYTES_PER_ROW;
  const expectedRows = Math.round((input.fileCount * input.avgFileSize) / bytesPerRow);
  // A chunk should take a fraction of a function's time budget, so a slow database
  // or a retry never pushes it past the deadline; never below 1,000 rows (per-chunk
  // overhead) nor above the configured size.
  const perChunkBudgetS = (limits.maxDurationMs / 1000) * 0.2;
  const chunkRows = Math.max(1000, Math.min(limits.configuredChunkRows, Math.round(rowsPerS * perChunkBudgetS)));
  const chunksPerFile = Math.max(1, Math.ceil(expectedRows / input.fileCount / chunkRows));
  return {
    chunk_rows: chunkRows,
    expected_rows: expectedRows,
    expected_chunks: chunksPerFile * input.fileCount,
    expected_seconds: Math.ceil(expectedRows / rowsPerS),
    basis: {
      rows_per_s: Math.round(rowsPerS),
      bytes_per_row: Math.round(bytesPerRow),
      from_history: fromHistory,
      imports_measured: fromHistory ? (history?.imports ?? 0) : 0,
    },
  };
}
