/**
 * The parts of the API's answers the CLI reads, as zod schemas (README, "HTTP API", has
 * every field). Loose on purpose: an answer keeps every member it has, so --json prints
 * what the API said, and a deployment newer than the CLI that adds members still parses.
 */
import { z } from "zod";
import { JOB_STATUSES } from "../db/schema.js";
import type { ImportCreated as ApiImportCreated } from "../imports/create.js";
import type { ImportList as ApiImportList, ImportStatus as ApiImportStatus, RowErrorPage as ApiRowErrorPage } from "../imports/status.js";
import type { UploadAnswer as ApiUploadAnswer, UploadSettings as ApiUploadSettings } from "../imports/uploads.js";
import type { JobView as ApiJobView } from "../jobs/engine.js";
import type { ReconcileStarted as ApiReconcileStarted } from "../reconcile/create.js";
import type { ReconcileRunList as ApiReconcileRunList, ReconcileRunStatus as ApiReconcileRunStatus } from "../reconcile/status.js";
import type { MarginReportAnswer as ApiMarginReportAnswer } from "../reports/margin.js";
import type { StartedRun as ApiStartedRun } from "../sync/create.js";
import type { SyncRunList as ApiSyncRunList, SyncRunRecord as ApiSyncRunRecord } from "../sync/status.js";

export const JobStatus = z.enum(JOB_STATUSES);
export type JobStatus = z.output<typeof JobStatus>;

/** The statuses of a job still going; every other status is final. */
export const ACTIVE_STATUSES: readonly JobStatus[] = ["queued", "planning", "running"];
export const isActive = (status: JobStatus): boolean => ACTIVE_STATUSES.includes(status);

const count = z.number();
const Counts = z.record(z.string(), count);

export const Progress = z
  .object({
    percent: z.number().nullable(),
    total_known: z.boolean(),
    rows: z.object({ total: count, done: count, failed: count }).loose(),
    rate_per_s: z.number().nullable(),
    eta_s: z.number().nullable(),
    stalled_for_s: z.number().nullable(),
  })
  .loose();
export type Progress = z.output<typeof Progress>;

/** GET /api/jobs/:id, and each job of the job lists. */
export const JobView = z
  .object({
    id: z.string(),
    kind: z.string(),
    status: JobStatus,
    params: z.unknown(),
    counters: Counts,
    last_error: z.string().nullable(),
    created_at: z.string(),
    finished_at: z.string().nullable(),
    progress: Progress,
  })
  .loose();
export type JobView = z.output<typeof JobView>;

export const RowError = z
  .object({
    file: z.string(),
    line: z.number(),
    column: z.string().nullable(),
    /** Absent from servers older than workbook imports. */
    cell: z.string().nullable().optional(),
    code: z.string(),
    message: z.string(),
    raw: z.string().nullable(),
  })
  .loose();
export type RowError = z.output<typeof RowError>;

/** GET /api/imports/:id. */
export const ImportView = z
  .object({
    id: z.string(),
    file_type: z.string().nullable(),
    status: JobStatus,
    dry_run: z.boolean(),
    created_at: z.string(),
    finished_at: z.string().nullable(),
    last_error: z.string().nullable(),
    progress: Progress,
    counts: Counts,
    errors_by_code: Counts,
    files: z.array(
      z
        .object({
          id: z.string(),
          name: z.string(),
          size: z.number(),
          status: z.string(),
          error: z.object({ code: z.string(), message: z.string() }).nullable(),
        })
        .loose(),
    ),
    first_errors: z.array(RowError),
    reconcile: z.boolean(),
    reconcile_job_id: z.string().nullable(),
  })
  .loose();
export type ImportView = z.output<typeof ImportView>;

/**
 * GET /api/uploads: where a client upload's bytes go (null: Vercel Blob's own API) and
 * the largest file the deployment takes (lib/imports/uploads.ts, UploadSettingsSchema).
 */
export const UploadSettings = z.object({ blob_api_url: z.string().nullable(), max_upload_bytes: z.number() }).loose();
export type UploadSettings = z.output<typeof UploadSettings>;

/** POST /api/uploads, a token request's answer. */
export const ClientTokenAnswer = z.object({ type: z.literal("blob.generate-client-token"), clientToken: z.string().min(1) }).loose();

/** POST /api/imports. */
export const ImportCreated = z.object({ job_id: z.string(), status_url: z.string() }).loose();

/** GET /api/imports/:id/errors (JSON). */
export const RowErrorPage = z.object({ errors: z.array(RowError), next_cursor: z.string().nullable() }).loose();
export type RowErrorPage = z.output<typeof RowErrorPage>;

const Amounts = z.object({ expected: count, actual: count, diff: count }).loose();

/** GET /api/reconcile/:id (the list's runs lack by_store). */
export const ReconcileView = z
  .object({
    id: z.string(),
    status: JobStatus,
    created_at: z.string(),
    finished_at: z.string().nullable(),
    last_error: z.string().nullable(),
    progress: Progress,
    filters: z
      .object({ store: z.string().nullable(), from: z.string().nullable(), to: z.string().nullable(), tolerance: count })
      .loose(),
    counts: Counts,
    amounts: z.record(z.string(), Amounts),
    split_invoices: count,
    aging: Counts,
  })
  .loose();
export type ReconcileView = z.output<typeof ReconcileView>;

/** POST /api/reconcile and POST /api/sync/:source. */
export const RunStarted = z.object({ job_id: z.string(), status_url: z.string() }).loose();
export const SyncStarted = RunStarted.extend({ source: z.string(), account: z.string(), mode: z.string(), note: z.string().optional() }).loose();

/** GET /api/sync/runs/:id: the run record. */
export const SyncRunView = z
  .object({
    id: z.string(),
    source: z.string(),
    account: z.string(),
    mode: z.string(),
    status: JobStatus,
    reason: z.string().nullable(),
    expected: z.object({ at_start: count.nullable(), at_end: count.nullable() }).loose(),
    seen_unique: count.nullable(),
    items: z.object({ created: count, updated: count, unchanged: count, duplicates: count, rejected: count, retired: count }).loose(),
    pages: z.object({ read: count, failed: count }).loose(),
    requests: z.object({ total: count, throttled_429: count, retries: count, logins: count, rate_per_s: z.number().nullable() }).loose(),
    created_at: z.string(),
    duration_s: z.number(),
    progress: Progress,
  })
  .loose();
export type SyncRunView = z.output<typeof SyncRunView>;

const MarginFigures = z
  .object({
    orders: count,
    gross_sales: count,
    net_payout: count,
    supplier_cost: count,
    net_margin: count,
    net_margin_pct: z.number().nullable(),
    unsettled: count,
  })
  .loose();

/** GET /api/reports/margin (JSON). */
export const MarginReport = z
  .object({
    group: z.string(),
    rows: z.array(MarginFigures.extend({ key: z.string().nullable() }).loose()),
    totals: MarginFigures,
  })
  .loose();
export type MarginReport = z.output<typeof MarginReport>;

export const ImportList = z.object({ imports: z.array(JobView), next_cursor: z.string().nullable() }).loose();
export const ReconcileList = z.object({ runs: z.array(ReconcileView), next_cursor: z.string().nullable() }).loose();
export const SyncRunList = z.object({ runs: z.array(SyncRunView), next_cursor: z.string().nullable() }).loose();

/**
 * The API's own answer types (the zod schemas next to the code that builds them) must
 * each be accepted by the CLI's schema of it: tsc checks it here, so a change of a field
 * the CLI reads fails the typecheck instead of a command. Type imports only: the CLI
 * does not load the server's modules (their database and logging layers) to run.
 */
type Accepts<Schema extends z.ZodType, Answer extends z.input<Schema>> = Answer;
export type _AnswersTheCliReads = [
  Accepts<typeof JobView, ApiJobView>,
  Accepts<typeof ImportView, ApiImportStatus>,
  Accepts<typeof RowErrorPage, ApiRowErrorPage>,
  Accepts<typeof ImportList, ApiImportList>,
  Accepts<typeof ImportCreated, ApiImportCreated>,
  Accepts<typeof UploadSettings, ApiUploadSettings>,
  Accepts<typeof ClientTokenAnswer, Extract<ApiUploadAnswer, { type: "blob.generate-client-token" }>>,
  Accepts<typeof ReconcileView, ApiReconcileRunStatus>,
  Accepts<typeof ReconcileList, ApiReconcileRunList>,
  Accepts<typeof RunStarted, ApiReconcileStarted>,
  Accepts<typeof SyncStarted, ApiStartedRun>,
  Accepts<typeof SyncRunView, ApiSyncRunRecord>,
  Accepts<typeof SyncRunList, ApiSyncRunList>,
  Accepts<typeof MarginReport, ApiMarginReportAnswer>,
];
