/**
 * `dropflow import <files...> --file-type purchases|settlements`: uploads the files
 * (client uploads, lib/cli/upload.ts), starts one import of them in the order given
 * (POST /api/imports), follows it to its end and prints what GET /api/imports/:id
 * answers. With --reconcile the API starts a reconcile run over what the import landed,
 * and the CLI follows that run too.
 */
import { randomUUID } from "node:crypto";
import { applyBlobSdkSettings } from "../../config.js";
import type { ImportStatus } from "../../imports/status.js";
import type { CommandContext } from "../context.js";
import { CliError, type ExitCode } from "../exit-codes.js";
import { follow } from "../follow.js";
import { exitCodeOf, worstOf } from "../outcome.js";
import { jobProgress, uploadProgress } from "../progress.js";
import { ImportCreated, ImportView, isActive, type JobStatus, ReconcileView } from "../responses.js";
import { importSummary, reconcileSummary } from "../summaries.js";
import { localFiles, uploadFiles, uploadTarget } from "../upload.js";

/** What POST /api/imports calls `file_type` (`kind` is its older name). */
export const FILE_TYPES = ["purchases", "settlements"] as const;
export type FileType = (typeof FILE_TYPES)[number];
// The API's own list, checked by tsc (a type import: the server's module is not loaded).
const _sameAsTheApi: [FileType] extends [NonNullable<ImportStatus["file_type"]>]
  ? [NonNullable<ImportStatus["file_type"]>] extends [FileType]
    ? true
    : false
  : false = true;

export interface ImportArgs {
  files: string[];
  fileType: FileType;
  store?: string | undefined;
  /** Workbooks: the sheet to import from each. */
  sheet?: string | undefined;
  reconcile: boolean;
  allowErrors: boolean;
}

/**
 * Counters that mean the import landed data: only then does the API start the reconcile
 * run (lib/reconcile/after-import.ts, LANDED_COUNTERS), so only then is one awaited.
 */
const LANDED = ["orders_inserted", "orders_updated", "settlements_inserted", "settlements_updated"];
/** Tries of a client upload's request to Blob (the SDK's own retries; lib/config.ts applyBlobSdkSettings). */
const BLOB_RETRIES = 3;
/** Polls after the import's end before its files' statuses, or its reconcile run, are given up on. */
const SETTLE_POLLS = 40;

export async function importCommand(ctx: CommandContext, args: ImportArgs): Promise<ExitCode> {
  const { api, out } = ctx;
  const files = await localFiles(args.files);
  const blobApiUrl = await uploadTarget(api, files, ctx.blobApiUrl);
  // The Blob SDK reads its API's address from the environment: lib/config.ts sets it.
  applyBlobSdkSettings(blobApiUrl, { retries: BLOB_RETRIES });

  const uploads = uploadProgress(out, files);
  let stored;
  try {
    stored = await uploadFiles(api, files, uploads, blobApiUrl);
  } finally {
    uploads.stop();
  }

  const created = await api.post(
    "/api/imports",
    { file_type: args.fileType, files: stored, store: args.store, sheet: args.sheet, reconcile: args.reconcile },
    ImportCreated,
    { idempotencyKey: randomUUID() },
  );
  out.line(`import ${created.job_id} started (${files.length} file${files.length === 1 ? "" : "s"})`);

  // The job's final status is written before its files' are: wait for those too, a while.
  let pollsSinceEnd = 0;
  const view = await follow(() => api.get(`/api/imports/${created.job_id}`, ImportView), jobProgress(out, "import", "rows"), {
    jobId: created.job_id,
    settled: (value) => {
      if (isActive(value.status)) return false;
      pollsSinceEnd += 1;
      return value.files.every((file) => !isActive(file.status as JobStatus)) || pollsSinceEnd > SETTLE_POLLS;
    },
  });
  const codes: ExitCode[] = [exitCodeOf(view.status, { allowErrors: args.allowErrors })];

  const after = args.reconcile ? await followReconcileAfter(ctx, view) : null;
  const reconcileRun = after?.run ?? null;
  const final = after?.view ?? view;
  if (reconcileRun) codes.push(exitCodeOf(reconcileRun.status));

  if (out.json) {
    out.data(reconcileRun ? { ...final, reconcile_run: reconcileRun } : final);
  } else {
    out.lines(importSummary(final));
    if (reconcileRun) out.lines(["", ...reconcileSummary(reconcileRun)]);
    else if (args.reconcile && !isActive(view.status)) out.line("no reconcile run: the import landed no new or changed rows");
  }
  return worstOf(codes);
}

/**
 * The reconcile run the import started (its id appears once the import has ended),
 * followed to its end, with the import's view that names it; null when none starts.
 */
async function followReconcileAfter(ctx: CommandContext, ended: ImportView): Promise<{ view: ImportView; run: ReconcileView } | null> {
  const { api, out } = ctx;
  if (!LANDED.some((name) => (ended.counts[name] ?? 0) > 0)) return null;
  let view = ended;
  for (let poll = 0; view.reconcile_job_id === null; poll += 1) {
    if (poll >= SETTLE_POLLS) {
      throw new CliError("not_started", `import ${ended.id} ended but its reconcile run has not started; see dropflow runs`, { job_id: ended.id });
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    view = await api.get(`/api/imports/${ended.id}`, ImportView);
  }
  const runId = view.reconcile_job_id;
  out.line(`reconcile ${runId} started after the import`);
  const run = await follow(() => api.get(`/api/reconcile/${runId}`, ReconcileView), jobProgress(out, "reconcile", "invoices"), {
    jobId: runId,
  });
  return { view, run };
}
