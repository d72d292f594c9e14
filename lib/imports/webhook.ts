/**
 * The completion webhook of an import: when an import that named a
 * `callback_url` ends, its summary is POSTed there, signed (lib/webhooks). The body
 * is what GET /api/imports/:id answers, with `event: "import.finished"` added, and
 * without `first_errors` when they would make it large (the errors route has them).
 */
import type { JobRecord } from "../jobs/types.js";
import { findJob } from "../jobs/repository.js";
import type { Logger } from "../log/index.js";
import type { TaskQueue } from "../queue/types.js";
import { publishWebhookTask, type WebhookBuilder } from "../webhooks/task.js";
import { IMPORT_KIND, ImportParams } from "./job-params.js";
import { importStatus } from "./status.js";

export const IMPORT_FINISHED = "import.finished";
/** Above this many bytes of JSON, the body goes without first_errors (each raw line may be 10 KB). */
export const MAX_WEBHOOK_BODY_BYTES = 32 * 1024;

/** Queues the webhook of a finished import that asked for one. Called by the import kind's afterFinalise. */
export async function queueImportWebhook(queue: () => TaskQueue, job: JobRecord, log: Logger): Promise<void> {
  const params = ImportParams.safeParse(job.params);
  if (!params.success || params.data.callback_url === null) return;
  try {
    const deliveryId = await publishWebhookTask(queue(), { event: IMPORT_FINISHED, job_id: job.id }, job.correlationId ?? job.id);
    log.info("completion webhook queued", { event: "webhook_queued", delivery_id: deliveryId });
  } catch (error) {
    // afterFinalise runs once (the finalise flag is taken); throwing would not bring it
    // back, only fail the chunk's delivery. Say so loudly instead.
    log.error("the completion webhook could not be queued", { event: "webhook_not_queued", err: error });
  }
}

export const importFinishedWebhook: WebhookBuilder = async ({ db, engine, jobId }) => {
  const job = await findJob(db, jobId);
  if (!job || job.kind !== IMPORT_KIND) return null;
  const params = ImportParams.safeParse(job.params);
  if (!params.success || params.data.callback_url === null) return null;
  const status = await importStatus(db, await engine.view(job));
  const body: Record<string, unknown> = { event: IMPORT_FINISHED, ...status };
  if (Buffer.byteLength(JSON.stringify(body)) > MAX_WEBHOOK_BODY_BYTES) {
    delete body.first_errors;
    body.first_errors_omitted = true;
  }
  return { url: params.data.callback_url, body };
};
