/**
 * Starting a reconcile run (POST /api/reconcile, and reconcile after import): the
 * store resolved, the run refused while an import writes to what it would read, the
 * run's day fixed, the job created.
 */
import { z } from "zod";
import type { Database } from "../db/client.js";
import { AppError } from "../errors.js";
import { fingerprint, withIdempotency } from "../http/idempotency.js";
import { json } from "../http/respond.js";
import { IMPORT_KIND, ImportParams } from "../imports/job-params.js";
import { activeJobs } from "../jobs/repository.js";
import type { Runtime } from "../runtime.js";
import { resolveStore } from "../stores/resolve.js";
import { RECONCILE_KIND, type ReconcileParams, type ReconcileRequest } from "./params.js";

export const CREATE_RECONCILE_SCOPE = "POST /api/reconcile";

/** POST /api/reconcile's 202: the run and where to follow it. */
export const ReconcileStartedSchema = z.object({ job_id: z.string(), status_url: z.string() });
export type ReconcileStarted = z.infer<typeof ReconcileStartedSchema>;

/** Imports looked at for one that is in the way; more active ones than this is not a real load. */
const ACTIVE_IMPORTS_LIMIT = 1000;
const JAKARTA_OFFSET_MS = 7 * 60 * 60 * 1000;

/** POST /api/reconcile, its body parsed; `request` carries the Idempotency-Key. */
export async function createReconcile(
  runtime: Runtime,
  request: Request,
  body: ReconcileRequest,
  correlationId: string,
): Promise<Response> {
  const { db } = await runtime.database();
  const claim = { db, request, scope: CREATE_RECONCILE_SCOPE, fingerprint: fingerprint(body) };
  return withIdempotency(claim, async () => {
    const store = body.store === undefined ? null : await resolveStore(db, body.store);
    const params: ReconcileParams = {
      store_ids: store ? [store.id] : null,
      from: body.from ?? null,
      to: body.to ?? null,
      status: body.status ?? null,
      tolerance: body.tolerance,
      as_of: jakartaToday(),
      after_import: null,
    };
    const blocking = await importInTheWay(db, params.store_ids);
    if (blocking) {
      throw new AppError(
        "import_running",
        `Import ${blocking} is still writing to ${store ? `store "${store.name}"` : "the stores"}; start the run once it has ended.`,
        { extra: { job_id: blocking }, headers: { "retry-after": "30" } },
      );
    }
    const jobId = await startReconcileJob(runtime, params, correlationId);
    return json(
      { job_id: jobId, status_url: `/api/reconcile/${jobId}` } satisfies ReconcileStarted,
      { status: 202, headers: { location: `/api/reconcile/${jobId}` } },
    );
  });
}

export async function startReconcileJob(runtime: Runtime, params: ReconcileParams, correlationId: string): Promise<string> {
  const engine = await runtime.engine();
  return (await engine.createJob(RECONCILE_KIND, params, correlationId)).id;
}

/**
 * An active import that may write to one of `storeIds` (any store, for null): a
 * purchase import writes to whichever stores its rows name, so any of them is in the
 * way; a settlement import only to its store (or, named by username, to one not known
 * yet). A dry run writes nothing.
 */
async function importInTheWay(db: Database, storeIds: number[] | null): Promise<string | null> {
  for (const job of await activeJobs(db, ACTIVE_IMPORTS_LIMIT, IMPORT_KIND)) {
    const parsed = ImportParams.safeParse(job.params);
    // Params this deployment cannot read are still an import in flight: in the way.
    if (!parsed.success) return job.id;
    const params = parsed.data;
    if (params.dry_run) continue;
    if (storeIds === null || params.file_type === "purchases" || params.store_id === null) return job.id;
    if (storeIds.includes(params.store_id)) return job.id;
  }
  return null;
}

/** Today in Asia/Jakarta (UTC+7, no daylight saving). */
export function jakartaToday(nowMs: number = Date.now()): string {
  return new Date(nowMs + JAKARTA_OFFSET_MS).toISOString().slice(0, 10);
}
