/**
 * The two ways a run starts: an API call (POST /api/sync/:source, one run, honouring
 * Idempotency-Key) and Vercel cron (every configured account of the source; a run
 * still going is reported, not an error, so the cron's log stays green).
 */
import { z } from "zod";
import { SYNC_SOURCES, type SyncMode, type SyncSource } from "../db/schema.js";
import { AppError } from "../errors.js";
import { fingerprint, withIdempotency } from "../http/idempotency.js";
import { json } from "../http/respond.js";
import type { Runtime } from "../runtime.js";
import { accountsOf, checkMode, chooseAccount, StartedRunSchema, startSyncRun } from "./create.js";
import type { SyncRequest } from "./params.js";

/** The mode a run gets when the caller names none: eMAG can only scan in full; SAP reads what changed. */
export const DEFAULT_MODE: Record<SyncSource, SyncMode> = { emag: "full", sap: "incremental" };

export async function startRunFromApi(
  runtime: Runtime,
  request: Request,
  source: SyncSource,
  body: SyncRequest,
  correlationId: string,
): Promise<Response> {
  const { db } = await runtime.database();
  const claim = { db, request, scope: `POST /api/sync/${source}`, fingerprint: fingerprint({ source, ...body }) };
  return withIdempotency(claim, async () => {
    const mode = body.mode ?? DEFAULT_MODE[source];
    checkMode(source, mode);
    const account = chooseAccount(runtime.upstreams(), source, body.account);
    const started = await startSyncRun({ db, engine: await runtime.engine() }, { source, account, mode, trigger: "api" }, correlationId);
    return json(started, { status: 202, headers: { location: started.status_url } });
  });
}

/** What a cron tick did: the runs it started, and the accounts whose run was still going. */
export const CronStartReportSchema = z.object({
  source: z.enum(SYNC_SOURCES),
  started: z.array(StartedRunSchema),
  running: z
    .array(z.object({ account: z.string(), job_id: z.string().nullable() }))
    .describe("Accounts whose previous run is still going: this tick starts nothing for them."),
  configured: z.boolean().describe("False when no account of the source is configured: nothing to do."),
});
export type CronStartReport = z.infer<typeof CronStartReportSchema>;

export async function startRunsFromCron(runtime: Runtime, source: SyncSource, mode: SyncMode, correlationId: string): Promise<CronStartReport> {
  const accounts = accountsOf(runtime.upstreams(), source);
  const report: CronStartReport = { source, started: [], running: [], configured: accounts.length > 0 };
  if (accounts.length === 0) return report;
  const { db } = await runtime.database();
  const engine = await runtime.engine();
  for (const account of accounts) {
    try {
      report.started.push(await startSyncRun({ db, engine }, { source, account, mode, trigger: "cron" }, correlationId));
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== "sync_running") throw error;
      const jobId = error.options.extra?.job_id;
      report.running.push({ account, job_id: typeof jobId === "string" ? jobId : null });
    }
  }
  return report;
}
