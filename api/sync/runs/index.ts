import { z } from "zod";
import { SYNC_SOURCES } from "../../../lib/db/schema.js";
import { json, route } from "../../../lib/http/index.js";
import { findSyncRuns } from "../../../lib/sync/runs.js";
import { listSyncRunIds, syncRunRecord } from "../../../lib/sync/status.js";

const RunListQuery = z.object({
  source: z.enum(SYNC_SOURCES).optional(),
  account: z.string().min(1).max(40).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

/** Sync runs, newest first, with their records. */
export const GET = route({ operation: "listSyncRuns", auth: "api", query: RunListQuery }, async ({ query, runtime }) => {
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
  return json({ runs: records, next_cursor: nextCursor });
});
