/**
 * What GET /api/reconcile/:id shows: the run's status and progress, its filters, and
 * its counts and amounts per outcome (every outcome, 0 when none), per store, and the
 * aging of its missing settlements. Read from the chunks' counters (the engine's
 * outcome API), so a running run shows what its committed chunks decided so far.
 */
import { sql } from "drizzle-orm";
import { z } from "zod";
import { type Database, queryRows } from "../db/client.js";
import { JOB_STATUSES, RECONCILE_OUTCOMES } from "../db/schema.js";
import { AppError } from "../errors.js";
import { chunkOutcomes, type JobEngine, type JobRow, type JobView, NextCursor, ProgressSchema, sumCountsByKey } from "../jobs/index.js";
import { agingCounter } from "./decide.js";
import { AGING_BUCKETS, RECONCILE_KIND, ReconcileParams, ReconcilePayload } from "./params.js";
import { STATUS_CLASSES } from "./status-classes.js";

/** The run `id`, or 404: a job of another kind is no reconcile run. */
export async function requireReconcile(engine: JobEngine, id: string): Promise<JobRow> {
  const job = await engine.requireJob(id);
  if (job.kind !== RECONCILE_KIND) throw new AppError("not_found", `No reconcile run ${id}.`);
  return job;
}

const count = z.number().int();
const Outcome = z.enum(RECONCILE_OUTCOMES);
const AmountsSchema = z.object({ expected: z.number(), actual: z.number(), diff: z.number() });

/** Counts and amounts (whole rupiah) per outcome, every outcome present (0 when none). */
const OutcomeSummarySchema = z.object({ counts: z.record(Outcome, count), amounts: z.record(Outcome, AmountsSchema) });
type OutcomeSummary = z.infer<typeof OutcomeSummarySchema>;

/** GET /api/reconcile/:id: a run's status, filters and what it decided (so far, while it runs). */
export const ReconcileRunStatusSchema = z
  .object({
    id: z.string(),
    status: z.enum(JOB_STATUSES),
    created_at: z.string(),
    finished_at: z.string().nullable(),
    last_error: z.string().nullable(),
    progress: ProgressSchema,
    filters: z.object({
      store: z.string().nullable().describe("The store's name; null: every store."),
      from: z.string().nullable(),
      to: z.string().nullable(),
      status: z.enum(STATUS_CLASSES).nullable(),
      tolerance: count,
    }),
    as_of: z.string().describe("The run's day in Asia/Jakarta, what the aging counts from."),
    after_import: z.string().nullable().describe("The import whose end started this run, if one did."),
    ...OutcomeSummarySchema.shape,
    split_invoices: count,
    by_store: z.record(z.string(), OutcomeSummarySchema).describe("The same counts and amounts per store name."),
    aging: z
      .record(z.enum(AGING_BUCKETS.map((bucket) => bucket.name) as [string, ...string[]]), count)
      .describe("Missing settlements by days since the order."),
  })
  .meta({ id: "ReconcileRunStatus" });
export type ReconcileRunStatus = z.infer<typeof ReconcileRunStatusSchema>;

/** A run as GET /api/reconcile lists it: its status without `by_store`. */
export const ReconcileRunSummarySchema = ReconcileRunStatusSchema.omit({ by_store: true }).meta({ id: "ReconcileRunSummary" });
export type ReconcileRunSummary = z.infer<typeof ReconcileRunSummarySchema>;

/** GET /api/reconcile: a page of runs, newest first. */
export const ReconcileRunListSchema = z.object({ runs: z.array(ReconcileRunSummarySchema), next_cursor: NextCursor });
export type ReconcileRunList = z.infer<typeof ReconcileRunListSchema>;

export async function reconcileStatus(db: Database, view: JobView): Promise<ReconcileRunStatus> {
  const params = ReconcileParams.parse(view.params);
  const byStoreId = sumCountsByKey(await chunkOutcomes(db, view.id, ReconcilePayload));
  const total: Record<string, number> = {};
  for (const counters of Object.values(byStoreId)) {
    for (const [name, value] of Object.entries(counters)) total[name] = (total[name] ?? 0) + value;
  }
  const names = await storeNames(db, [...Object.keys(byStoreId).map(Number), ...(params.store_ids ?? [])]);
  const byStore = Object.fromEntries(
    Object.entries(byStoreId)
      .map(([id, counters]) => [names.get(Number(id)) ?? `store ${id}`, summaryOf(counters)] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
  return {
    id: view.id,
    status: view.status,
    created_at: view.created_at,
    finished_at: view.finished_at,
    last_error: view.last_error,
    progress: view.progress,
    filters: {
      store: params.store_ids === null ? null : params.store_ids.map((id) => names.get(id) ?? `store ${id}`).join(", "),
      from: params.from,
      to: params.to,
      status: params.status,
      tolerance: params.tolerance,
    },
    as_of: params.as_of,
    after_import: params.after_import,
    ...summaryOf(total),
    split_invoices: total.split_invoices ?? 0,
    by_store: byStore,
    aging: Object.fromEntries(AGING_BUCKETS.map((bucket) => [bucket.name, total[agingCounter(bucket.name)] ?? 0])) as ReconcileRunStatus["aging"],
  };
}

function summaryOf(counters: Record<string, number>): OutcomeSummary {
  const counts = {} as OutcomeSummary["counts"];
  const amounts = {} as OutcomeSummary["amounts"];
  for (const outcome of RECONCILE_OUTCOMES) {
    counts[outcome] = counters[outcome] ?? 0;
    amounts[outcome] = {
      expected: counters[`${outcome}_expected`] ?? 0,
      actual: counters[`${outcome}_actual`] ?? 0,
      diff: counters[`${outcome}_diff`] ?? 0,
    };
  }
  return { counts, amounts };
}

export async function storeNames(db: Database, ids: number[]): Promise<Map<number, string>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const rows = await queryRows<{ id: number; name: string }>(
    db,
    sql`select id, name from stores where id in (${sql.join(
      unique.map((id) => sql`${id}`),
      sql`, `,
    )})`,
  );
  return new Map(rows.map((row) => [row.id, row.name]));
}

/** A run as GET /api/reconcile lists it: its status without the per-store breakdown. */
export async function runSummary(db: Database, view: JobView): Promise<ReconcileRunSummary> {
  const { by_store: _byStore, ...summary } = await reconcileStatus(db, view);
  return summary;
}
