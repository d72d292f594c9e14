/**
 * `dropflow sync <emag|sap> [--mode full|incremental] [--account]`: starts a catalogue
 * sync run (POST /api/sync/:source), follows it to its end and prints its run record
 * (GET /api/sync/runs/:id). A run that cannot prove it saw everything ends
 * completed_with_gaps: exit 2, or 0 with --allow-errors.
 */
import { randomUUID } from "node:crypto";
import type { SyncSource } from "../../db/schema.js";
import type { SyncRequest } from "../../sync/params.js";
import type { CommandContext } from "../context.js";
import type { ExitCode } from "../exit-codes.js";
import { follow } from "../follow.js";
import { exitCodeOf } from "../outcome.js";
import { jobProgress } from "../progress.js";
import { SyncRunView, SyncStarted } from "../responses.js";
import { syncSummary } from "../summaries.js";

export interface SyncArgs {
  source: SyncSource;
  request: SyncRequest;
  allowErrors: boolean;
}

export async function syncCommand(ctx: CommandContext, args: SyncArgs): Promise<ExitCode> {
  const { api, out } = ctx;
  const started = await api.post(`/api/sync/${args.source}`, args.request, SyncStarted, { idempotencyKey: randomUUID() });
  out.line(`sync ${started.job_id} started (${started.source}/${started.account}, ${started.mode})${started.note ? `: ${started.note}` : ""}`);
  const run = await follow(() => api.get(`/api/sync/runs/${started.job_id}`, SyncRunView), jobProgress(out, `sync ${args.source}`, "items", { totalOf: (view) => view.expected.at_start }), {
    jobId: started.job_id,
  });
  out.data(run);
  out.lines(syncSummary(run));
  return exitCodeOf(run.status, { allowErrors: args.allowErrors });
}
