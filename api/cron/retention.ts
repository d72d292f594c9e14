import { json, route } from "../../lib/http/index.js";
import { startBudget } from "../../lib/jobs/index.js";
import { logger } from "../../lib/log/index.js";
import { sweepRetention } from "../../lib/retention/sweep.js";

/** Vercel cron (Bearer $CRON_SECRET), daily: deletes what is kept only for a while, within the budget. */
export const GET = route({ operation: "retention", auth: "cron" }, async ({ runtime }) => {
  const { db } = await runtime.database();
  const budget = startBudget({ maxDurationMs: runtime.config.jobs.maxDurationMs, marginMs: runtime.config.jobs.deadlineMarginMs });
  try {
    return json(
      await sweepRetention({
        db,
        objects: () => runtime.objectStore(),
        ages: runtime.config.retention,
        timeLeftMs: () => budget.remainingMs(),
        log: logger("retention"),
        metrics: runtime.metrics(),
      }),
    );
  } finally {
    budget.dispose();
  }
});
