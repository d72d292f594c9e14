import { json, route } from "../lib/http/index.js";
import { LogQuery, searchLogs } from "../lib/logs/store.js";

/** The searchable logs: WARN and above and job lifecycle events, by correlation id, job, level, time, text. */
export const GET = route({ operation: "searchLogs", auth: "api", query: LogQuery }, async ({ query, runtime }) => {
  const { db } = await runtime.database();
  return json(await searchLogs(db, query));
});
