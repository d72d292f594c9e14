/**
 * `dropflow reconcile [--store] [--from] [--to]`: starts a reconcile run
 * (POST /api/reconcile), follows it to its end and prints its outcomes as
 * GET /api/reconcile/:id answers them.
 */
import { randomUUID } from "node:crypto";
import type { ReconcileRequest } from "../../reconcile/params.js";
import type { CommandContext } from "../context.js";
import type { ExitCode } from "../exit-codes.js";
import { follow } from "../follow.js";
import { exitCodeOf } from "../outcome.js";
import { jobProgress } from "../progress.js";
import { ReconcileView, RunStarted } from "../responses.js";
import { reconcileSummary } from "../summaries.js";

export async function reconcileCommand(ctx: CommandContext, request: ReconcileRequest): Promise<ExitCode> {
  const { api, out } = ctx;
  const started = await api.post("/api/reconcile", request, RunStarted, { idempotencyKey: randomUUID() });
  out.line(`reconcile ${started.job_id} started`);
  const run = await follow(() => api.get(`/api/reconcile/${started.job_id}`, ReconcileView), jobProgress(out, "reconcile", "invoices"), {
    jobId: started.job_id,
  });
  out.data(run);
  out.lines(reconcileSummary(run));
  return exitCodeOf(run.status);
}
