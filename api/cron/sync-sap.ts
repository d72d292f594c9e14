import { json, route } from "../../lib/http/index.js";
import { SapCronQuery } from "../../lib/sync/params.js";
import { startRunsFromCron } from "../../lib/sync/start.js";

/** Vercel cron (Bearer $CRON_SECRET): SAP incremental every 15 minutes, `?mode=full` nightly. */
export const GET = route(
  { operation: "cronSyncSap", auth: "cron", query: SapCronQuery },
  async ({ query, runtime, correlationId }) => json(await startRunsFromCron(runtime, "sap", query.mode, correlationId)),
);
