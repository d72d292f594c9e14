import { json, route } from "../../lib/http/index.js";
import { JobListQuery, listJobPage } from "../../lib/jobs/index.js";
import { createReconcile } from "../../lib/reconcile/create.js";
import { RECONCILE_KIND, ReconcileRequest } from "../../lib/reconcile/params.js";
import { type ReconcileRunList, runSummary } from "../../lib/reconcile/status.js";

/** Starts a reconcile run; honours Idempotency-Key. */
export const POST = route(
  { operation: "createReconcile", auth: "api", body: ReconcileRequest },
  async ({ request, body, runtime, correlationId }) => createReconcile(runtime, request, body, correlationId),
);

/** Runs, newest first, with their counts. */
export const GET = route({ operation: "listReconcileRuns", auth: "api", query: JobListQuery }, async ({ query, runtime }) => {
  const engine = await runtime.engine();
  const { db } = await runtime.database();
  const { page, nextCursor } = await listJobPage(db, RECONCILE_KIND, query);
  const runs = await Promise.all(page.map(async (job) => runSummary(db, await engine.view(job))));
  return json({ runs, next_cursor: nextCursor } satisfies ReconcileRunList);
});
