/**
 * Starting sync runs: POST /api/sync/:source (one run) and the cron routes (every
 * configured account). One run per source and account at a time: the run's sync_runs
 * row is inserted with its job, and the partial unique index refuses a second active
 * one, so two starts racing each other cannot both win.
 */
import { z } from "zod";
import type { Database } from "../db/client.js";
import { SYNC_MODES, SYNC_SOURCES, type SyncMode, type SyncSource } from "../db/schema.js";
import { AppError } from "../errors.js";
import { uuidv7 } from "../jobs/ids.js";
import { findJob, type JobEngine } from "../jobs/index.js";
import { TERMINAL_STATUSES } from "../jobs/repository.js";
import type { Upstreams } from "./kind.js";
import { SYNC_KIND, type SyncParams } from "./params.js";
import { activeSyncRun, finishSyncRun, insertSyncRun, lastCompleteRunDay } from "./runs.js";

/** A run started (POST /api/sync/:source's 202, and each run a cron tick started). */
export const StartedRunSchema = z.object({
  job_id: z.string(),
  source: z.enum(SYNC_SOURCES),
  account: z.string(),
  mode: z.enum(SYNC_MODES),
  since: z.string().nullable().describe("Incremental SAP runs: items updated on or after this day."),
  status_url: z.string(),
  note: z.string().optional().describe("Why the run is not what was asked for (an incremental run with nothing to be incremental from)."),
});
export type StartedRun = z.infer<typeof StartedRunSchema>;

class RunActive extends Error {}

/** The accounts a source has on this deployment (SAP has one: its company database). */
export function accountsOf(upstreams: Upstreams, source: SyncSource): string[] {
  return source === "emag" ? upstreams.emag.map((account) => account.name) : upstreams.sap ? [upstreams.sap.companyDb] : [];
}

/** The account a request names, or the only one there is; a 404 or 400 naming the choices otherwise. */
export function chooseAccount(upstreams: Upstreams, source: SyncSource, requested: string | undefined): string {
  const accounts = accountsOf(upstreams, source);
  if (accounts.length === 0) {
    throw new AppError("source_not_configured", source === "emag" ? "No eMAG account is configured (EMAG_ACCOUNTS)." : "SAP is not configured (SAP_URL and its login).");
  }
  if (requested !== undefined) {
    if (!accounts.includes(requested)) throw new AppError("source_not_configured", `No ${source} account "${requested}"; configured: ${accounts.join(", ")}.`);
    return requested;
  }
  if (accounts.length > 1) {
    throw new AppError("validation_failed", `Name the account: ${accounts.join(", ")}.`, {
      fields: [{ field: "account", location: "body", message: `one of ${accounts.join(", ")}` }],
    });
  }
  return accounts[0] as string;
}

/** eMAG has no modified-since filter for offers: its runs are full scans. */
export function checkMode(source: SyncSource, mode: SyncMode): void {
  if (source === "emag" && mode === "incremental") {
    throw new AppError("validation_failed", "eMAG offers have no modified-since filter: eMAG runs are full scans.", {
      fields: [{ field: "mode", location: "body", message: 'must be "full" for eMAG' }],
    });
  }
}

function dayBefore(day: string): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() - 1);
  return date.toISOString().slice(0, 10);
}

/**
 * Starts one run, or throws 409 sync_running with the running one's id. An
 * incremental SAP run reads items updated since the day before the last complete
 * run started (SAP compares UpdateDate by the day); with no complete run yet it is a
 * full run, and says so.
 */
export async function startSyncRun(
  deps: { db: Database; engine: JobEngine },
  request: { source: SyncSource; account: string; mode: SyncMode; trigger: SyncParams["trigger"] },
  correlationId: string,
): Promise<StartedRun> {
  const { db, engine } = deps;
  let mode = request.mode;
  let since: string | null = null;
  let note: string | undefined;
  if (mode === "incremental") {
    const lastDay = await lastCompleteRunDay(db, request.source, request.account);
    if (lastDay === null) {
      mode = "full";
      note = "no complete run to be incremental from yet: this run is a full one";
    } else {
      since = dayBefore(lastDay);
    }
  }
  const params: SyncParams = { source: request.source, account: request.account, mode, since, trigger: request.trigger };
  for (let attempt = 1; ; attempt++) {
    try {
      const job = await engine.createJob(SYNC_KIND, params, correlationId, {
        id: uuidv7(),
        onCreated: async (tx, row) => {
          if (!(await insertSyncRun(tx, { jobId: row.id, source: request.source, account: request.account, mode, since }))) throw new RunActive();
        },
      });
      return {
        job_id: job.id,
        source: request.source,
        account: request.account,
        mode,
        since,
        status_url: `/api/sync/runs/${job.id}`,
        ...(note ? { note } : {}),
      };
    } catch (error) {
      if (!(error instanceof RunActive)) throw error;
      const running = await activeSyncRun(db, request.source, request.account);
      // The active row's job already ended (its end was interrupted between the two writes): free it, try once more.
      const runningJob = running ? await findJob(db, running) : null;
      if (running && attempt === 1 && (!runningJob || TERMINAL_STATUSES.includes(runningJob.status))) {
        await finishSyncRun(db, running);
        continue;
      }
      throw new AppError("sync_running", `A ${request.source} sync of account "${request.account}" is still running.`, {
        extra: running ? { job_id: running } : {},
        headers: { "retry-after": "60" },
      });
    }
  }
}
