import { json, route } from "../../lib/http/index.js";
import { startRunsFromCron } from "../../lib/sync/start.js";

/** Vercel cron (Bearer $CRON_SECRET), hourly: a full scan of every configured eMAG account. */
export const GET = route({ operation: "cronSyncEmag", auth: "cron" }, async ({ runtime, correlationId }) =>
  json(await startRunsFromCron(runtime, "emag", "full", correlationId)),
);
