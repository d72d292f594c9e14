import { json, route } from "../../../lib/http/index.js";
import { JobIdParams } from "../../../lib/jobs/index.js";
import { requireSyncRun, syncRunRecord } from "../../../lib/sync/status.js";

/** One sync run's record. */
export const GET = route({ operation: "getSyncRun", auth: "api", query: JobIdParams }, async ({ query, runtime }) => {
  const { db } = await runtime.database();
  const { view, run } = await requireSyncRun(await runtime.engine(), db, query.id);
  return json(await syncRunRecord({ db, store: runtime.syncStore() }, view, run));
});
