import { json, route } from "../../lib/http/index.js";
import { runWatchdog } from "../../lib/jobs/index.js";

/** Vercel cron (GET with Bearer $CRON_SECRET): recover stuck work. */
export const GET = route({ operation: "watchdog", auth: "cron" }, async ({ runtime }) => {
  const { db } = await runtime.database();
  const report = await runWatchdog({
    db,
    store: runtime.jobStore(),
    engine: await runtime.engine(),
    config: runtime.config.jobs,
    metrics: runtime.metrics(),
  });
  // Alerts held back by the rate limit get their summary once a slot is free.
  await runtime.alerts()?.summarise();
  return json(report);
});
