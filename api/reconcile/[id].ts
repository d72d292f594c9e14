import { z } from "zod";
import { json, route } from "../../lib/http/index.js";
import { reconcileStatus, requireReconcile } from "../../lib/reconcile/status.js";

export const GET = route(
  { operation: "getReconcileRun", auth: "api", query: z.object({ id: z.string().uuid() }) },
  async ({ query, runtime }) => {
    const engine = await runtime.engine();
    const job = await requireReconcile(engine, query.id);
    const { db } = await runtime.database();
    return json(await reconcileStatus(db, await engine.view(job)));
  },
);
