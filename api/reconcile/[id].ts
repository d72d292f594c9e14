import { json, route } from "../../lib/http/index.js";
import { JobIdParams } from "../../lib/jobs/index.js";
import { reconcileStatus, requireReconcile } from "../../lib/reconcile/status.js";

export const GET = route(
  { operation: "getReconcileRun", auth: "api", query: JobIdParams },
  async ({ query, runtime }) => {
    const engine = await runtime.engine();
    const job = await requireReconcile(engine, query.id);
    const { db } = await runtime.database();
    return json(await reconcileStatus(db, await engine.view(job)));
  },
);
