/**
 * One delivery attempt of a webhook: sign the body now (so every attempt, a retry
 * included, carries a fresh timestamp), POST it, and say whether the receiver took
 * it. Retries are the queue's: the task handler turns a refusal into a 5xx.
 */
import { AppError } from "../errors.js";
import { assertPublicHost, type ResolveHost } from "./callback-url.js";
import { signWebhook } from "./sign.js";
import { SIGNATURE_HEADER } from "./verify.js";

export const EVENT_HEADER = "dropflow-event";
export const DELIVERY_HEADER = "dropflow-delivery";
/** How long a receiver may take to answer one attempt. */
export const DELIVERY_TIMEOUT_MS = 10_000;

export interface WebhookDelivery {
  url: string;
  event: string;
  /** The JSON text sent, exactly as signed. */
  body: string;
  secret: string;
  /** The same for every attempt of one delivery (receivers may deduplicate on it). */
  deliveryId: string;
  /** Production re-checks the receiver's addresses before each attempt (DNS may have changed). */
  production: boolean;
  resolve?: ResolveHost;
  /** Now, in milliseconds (tests). */
  now?: () => number;
  timeoutMs?: number;
}

export interface DeliveryOutcome {
  status: number;
  signature: string;
}

/**
 * Throws AppError("service_unavailable") when the receiver did not answer 2xx (or not
 * at all); AppError("validation_failed") when the URL is no longer acceptable, which
 * no retry will change.
 */
export async function deliverWebhook(delivery: WebhookDelivery): Promise<DeliveryOutcome> {
  const url = new URL(delivery.url);
  if (delivery.production) await assertPublicHost(url.hostname, delivery.resolve);
  const timestamp = Math.floor((delivery.now?.() ?? Date.now()) / 1000);
  const signature = signWebhook(delivery.body, delivery.secret, timestamp);
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "dropflow-webhooks",
        [SIGNATURE_HEADER]: signature,
        [EVENT_HEADER]: delivery.event,
        [DELIVERY_HEADER]: delivery.deliveryId,
      },
      body: delivery.body,
      // A redirect is not followed: it could lead anywhere, past the address check.
      redirect: "manual",
      signal: AbortSignal.timeout(delivery.timeoutMs ?? DELIVERY_TIMEOUT_MS),
    });
  } catch (error) {
    throw new AppError("service_unavailable", `The webhook receiver did not answer: ${describe(error)}.`, { cause: error });
  }
  // Only the status matters; the body is not read (a receiver may send anything).
  await response.body?.cancel();
  if (response.status < 200 || response.status > 299) {
    throw new AppError("service_unavailable", `The webhook receiver answered ${response.status}.`);
  }
  return { status: response.status, signature };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error.cause as { code?: unknown } | undefined)?.code;
    return typeof code === "string" ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}
