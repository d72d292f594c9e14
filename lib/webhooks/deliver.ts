/**
 * One delivery attempt of a webhook: sign the body now (so every attempt, a retry
 * included, carries a fresh timestamp), POST it, and say whether the receiver took
 * it. Retries are the queue's: the task handler turns a refusal into a 5xx.
 */
import { isIP } from "node:net";
import { AppError } from "../errors.js";
import { bareHostname, parseCallbackUrl, publicAddressesOf, type ResolveHost } from "./callback-url.js";
import { checkedLookup } from "./checked-lookup.js";
import { postForStatus } from "./post.js";
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
  /**
   * Production checks the receiver's addresses at each attempt (DNS may have changed)
   * and connects only to the addresses it checked.
   */
  production: boolean;
  /** Resolves the receiver's host name (tests pass their own). */
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
 * at all); AppError("validation_failed") naming `callback_url` when the URL is no
 * longer acceptable, which no retry will change.
 */
export async function deliverWebhook(delivery: WebhookDelivery): Promise<DeliveryOutcome> {
  const url = delivery.production ? parseCallbackUrl(delivery.url, true) : new URL(delivery.url);
  // Node connects to an IP address without calling `lookup`: a literal is checked here
  // (it cannot change between the check and the connection).
  if (delivery.production && isIP(bareHostname(url.hostname)) !== 0) await publicAddressesOf(url.hostname);
  const timestamp = Math.floor((delivery.now?.() ?? Date.now()) / 1000);
  const signature = signWebhook(delivery.body, delivery.secret, timestamp);
  const timeoutMs = delivery.timeoutMs ?? DELIVERY_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  let status: number;
  try {
    status = await postForStatus({
      url,
      headers: {
        "content-type": "application/json",
        "user-agent": "dropflow-webhooks",
        [SIGNATURE_HEADER]: signature,
        [EVENT_HEADER]: delivery.event,
        [DELIVERY_HEADER]: delivery.deliveryId,
      },
      body: delivery.body,
      // Redirects are not followed (node:http never does): one could lead anywhere, past the address check.
      lookup: checkedLookup({ production: delivery.production, ...(delivery.resolve ? { resolve: delivery.resolve } : {}) }),
      signal,
    });
  } catch (error) {
    // The lookup refused the host's addresses: the same refusal as at creation.
    if (error instanceof AppError) throw error;
    const reason = signal.aborted ? `no answer within ${timeoutMs} ms` : describe(error);
    throw new AppError("service_unavailable", `The webhook receiver did not answer: ${reason}.`, { cause: error });
  }
  if (status < 200 || status > 299) {
    throw new AppError("service_unavailable", `The webhook receiver answered ${status}.`);
  }
  return { status, signature };
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === "string" && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}
