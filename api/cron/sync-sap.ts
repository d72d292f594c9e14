import { z } from "zod";
import { SYNC_MODES } from "../../lib/db/schema.js";
import { json, route } from "../../lib/http/index.js";
import { startRunsFromCron } from "../../lib/sync/start.js";

/** Vercel cron (Bearer $CRON_SECRET): SAP incremental every 15 minutes, `?mode=full` nightly. */
export const GET = route(
  { operation: "cronSyncSap", auth: "cron", query: z.object({ mode: z.enum(SYNC_MODES).default("incremental") }) },
  async ({ query, runtime, correlationId }) => json(await startRunsFromCron(runtime, "sap", query.mode, correlationId)),
);
