/**
 * Webhooks go out through the queue, so that a receiver that is down gets the
 * delivery again with backoff: the `webhook` task (api/tasks/[type].ts) carries only
 * ids; each delivery attempt builds the body from the database, signs it afresh and
 * POSTs it, and answers 5xx when the receiver did not take it, so QStash retries.
 *
 * What an event's body is, and where it goes, is up to its owner: a capability
 * registers a builder per event (lib/imports/webhook.ts: `import.finished`).
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Database } from "../db/client.js";
import { AppError } from "../errors.js";
import type { JobEngine } from "../jobs/engine.js";
import type { Logger } from "../log/index.js";
import type { TaskQueue } from "../queue/types.js";
import type { ResolveHost } from "./callback-url.js";
import { deliverWebhook } from "./deliver.js";

export const WEBHOOK_TASK = "webhook";
/** Delivery retries after the first attempt (QStash's backoff: about 12 s, 2.5 min, 30 min). */
export const WEBHOOK_DELIVERY_RETRIES = 3;

export const WebhookTaskPayload = z.object({
  event: z.string().min(1).max(100),
  job_id: z.string().uuid(),
  /** The same for every attempt of one delivery; sent as Dropflow-Delivery. */
  delivery_id: z.string().uuid(),
});
export type WebhookTaskPayload = z.infer<typeof WebhookTaskPayload>;

export interface WebhookContext {
  db: Database;
  engine: JobEngine;
  jobId: string;
}

/** The receiver and the JSON body of an event, or null when there is nothing to send. */
export type WebhookBuilder = (ctx: WebhookContext) => Promise<{ url: string; body: unknown } | null>;

/** The events a runtime sends, each with its builder (no process-wide registry). */
export type WebhookEvents = ReadonlyMap<string, WebhookBuilder>;

export async function publishWebhookTask(
  queue: TaskQueue,
  payload: Omit<WebhookTaskPayload, "delivery_id">,
  correlationId: string,
): Promise<string> {
  const deliveryId = randomUUID();
  await queue.publish(
    { type: WEBHOOK_TASK, payload: { ...payload, delivery_id: deliveryId }, correlation_id: correlationId },
    { deduplicationId: `webhook:${payload.job_id}:${deliveryId}`, retries: WEBHOOK_DELIVERY_RETRIES },
  );
  return deliveryId;
}

export interface WebhookTaskDeps {
  events: WebhookEvents;
  db: Database;
  engine: JobEngine;
  secret: string;
  production: boolean;
  resolve?: ResolveHost;
  log: Logger;
}

export type WebhookTaskOutcome = "delivered" | "skipped" | "refused";

/**
 * One delivery attempt. Throws AppError("service_unavailable") when the receiver did
 * not take it (the task route answers 503 and the queue tries again later); an event
 * with nothing to send, or a receiver that is no longer acceptable, ends it.
 */
export async function runWebhookTask(
  deps: WebhookTaskDeps,
  payload: WebhookTaskPayload,
  delivery: { retried: number },
): Promise<WebhookTaskOutcome> {
  const build = deps.events.get(payload.event);
  if (!build) {
    deps.log.error("no builder for webhook event", { event: payload.event });
    return "skipped";
  }
  const message = await build({ db: deps.db, engine: deps.engine, jobId: payload.job_id });
  if (message === null) return "skipped";
  const fields = { event: payload.event, job_id: payload.job_id, delivery_id: payload.delivery_id, retried: delivery.retried };
  try {
    const outcome = await deliverWebhook({
      url: message.url,
      event: payload.event,
      body: JSON.stringify(message.body),
      secret: deps.secret,
      deliveryId: payload.delivery_id,
      production: deps.production,
      ...(deps.resolve ? { resolve: deps.resolve } : {}),
    });
    deps.log.info("webhook delivered", { ...fields, status: outcome.status });
    return "delivered";
  } catch (error) {
    if (error instanceof AppError && error.code === "validation_failed") {
      deps.log.warn("webhook not sent: its receiver is no longer acceptable", { ...fields, reason: error.message });
      return "refused";
    }
    deps.log.warn("webhook delivery failed; the queue will retry it", {
      ...fields,
      reason: error instanceof Error ? error.message : String(error),
    });
    throw error;
  }
}
