/**
 * Reconcile after import: an import asked to (`reconcile: true`) that landed data starts
 * a run over the stores it wrote to and the order dates of the invoices it touched, so a
 * seller who imports never has to remember to reconcile. The run is found again by its
 * `after_import` param: the import's status links it, and a repeated end starts none.
 */
import { sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import { findJobByParam } from "../jobs/repository.js";
import { jakartaToday } from "./create.js";
import { RECONCILE_KIND, type ReconcileParams } from "./params.js";
import { jakartaDay } from "./scope.js";

/** The run an import started, if any. */
export async function reconcileRunOf(db: Database, importJobId: string): Promise<string | null> {
  return (await findJobByParam(db, RECONCILE_KIND, "after_import", importJobId))?.id ?? null;
}

/**
 * The params of the run over what import `importJobId` wrote; null when it wrote nothing.
 * An invoice's order date is its earliest purchase's, whichever import wrote that one;
 * a touched orphan settlement without an order date widens the run to every date.
 */
export async function scopeOfImport(db: Database, importJobId: string): Promise<ReconcileParams | null> {
  const [scope] = await queryRows<{ store_ids: number[] | null; from: string | null; to: string | null; undated: boolean }>(
    db,
    sql`with touched as (
          select store_id, invoice from purchases where last_job_id = ${importJobId}
          union
          select store_id, order_sn from settlements where last_job_id = ${importJobId}
        ),
        days as (
          select t.store_id,
                 coalesce(
                   (select ${jakartaDay(sql`min(p.ordered_at)`)} from purchases p where p.store_id = t.store_id and p.invoice = t.invoice),
                   (select s.ordered_on from settlements s where s.store_id = t.store_id and s.order_sn = t.invoice)
                 ) as day
          from touched t
        )
        select array_agg(distinct store_id order by store_id) as store_ids,
               to_char(min(day), 'YYYY-MM-DD') as "from", to_char(max(day), 'YYYY-MM-DD') as "to",
               bool_or(day is null) as undated
        from days`,
  );
  if (!scope?.store_ids || scope.store_ids.length === 0) return null;
  const dated = !scope.undated;
  return {
    store_ids: scope.store_ids,
    from: dated ? scope.from : null,
    to: dated ? scope.to : null,
    status: null,
    tolerance: 0,
    as_of: jakartaToday(),
    after_import: importJobId,
  };
}

/**
 * Starts the run after an import that asked for one and landed data (an import that
 * changed nothing starts none); the job id, or null when none was started.
 */
export async function startReconcileAfterImport(
  deps: { db: Database; createRun(params: ReconcileParams, correlationId: string): Promise<string> },
  importJob: { id: string; correlationId: string | null },
  counters: Record<string, number>,
): Promise<string | null> {
  const landed = LANDED_COUNTERS.some((name) => (counters[name] ?? 0) > 0);
  if (!landed) return null;
  const existing = await reconcileRunOf(deps.db, importJob.id);
  if (existing) return existing;
  const params = await scopeOfImport(deps.db, importJob.id);
  if (!params) return null;
  return deps.createRun(params, importJob.correlationId ?? importJob.id);
}

/** What an import landed: inserted or changed rows (unchanged ones leave outcomes as they were). */
const LANDED_COUNTERS = ["orders_inserted", "orders_updated", "settlements_inserted", "settlements_updated"];
