/**
 * `dropflow status <job>`: any job by its id (GET /api/jobs/:id says its kind), shown
 * as its own route shows it: an import as GET /api/imports/:id, a reconcile run as
 * GET /api/reconcile/:id, a sync run as GET /api/sync/runs/:id. The exit code is the
 * job's (0 also while it runs).
 */
import type { CommandContext } from "../context.js";
import type { ExitCode } from "../exit-codes.js";
import { exitCodeOf } from "../outcome.js";
import { ImportView, JobView, ReconcileView, SyncRunView } from "../responses.js";
import { importSummary, jobSummary, reconcileSummary, syncSummary } from "../summaries.js";

export async function statusCommand(ctx: CommandContext, jobId: string): Promise<ExitCode> {
  const { api, out } = ctx;
  const job = await api.get(`/api/jobs/${jobId}`, JobView);
  let view: { status: JobView["status"] };
  let lines: string[];
  if (job.kind === "import") {
    const importView = await api.get(`/api/imports/${jobId}`, ImportView);
    [view, lines] = [importView, importSummary(importView)];
  } else if (job.kind === "reconcile") {
    const run = await api.get(`/api/reconcile/${jobId}`, ReconcileView);
    [view, lines] = [run, reconcileSummary(run)];
  } else if (job.kind === "sync") {
    const run = await api.get(`/api/sync/runs/${jobId}`, SyncRunView);
    [view, lines] = [run, syncSummary(run)];
  } else {
    [view, lines] = [job, jobSummary(job)];
  }
  out.data(view);
  out.lines(lines);
  return exitCodeOf(view.status);
}
