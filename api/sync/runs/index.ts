import { json, route } from "../../../lib/http/index.js";
import { findSyncRuns } from "../../../lib/sync/runs.js";
import { listSyncRunIds, type SyncRunList, SyncRunListQuery, syncRunRecord } from "../../../lib/sync/status.js";

/** Sync runs, newest first, with their records. */
export const GET = route({ operation: "listSyncRuns", auth: "api", query: SyncRunListQuery }, async ({ query, runtime }) => {
  const { db } = await runtime.database();
  const engine = await runtime.engine();
  const { ids, nextCursor } = await listSyncRunIds(db, query);
  const runs = await findSyncRuns(db, ids);
  const records = [];
  for (const id of ids) {
    const run = runs.get(id);
    if (!run) continue;
    records.push(await syncRunRecord({ db, store: runtime.syncStore() }, await engine.view(await engine.requireJob(id)), run));
  }
  return json({ runs: records, next_cursor: nextCursor } satisfies SyncRunList);
});
