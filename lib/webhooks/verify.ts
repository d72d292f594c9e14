/**
 * Verifying a dropflow webhook, for receivers. Everything below the imports is shown
 * verbatim in the README (a test keeps the two the same) and depends on nothing but
 * node:crypto, so a receiver can copy it; dropflow's tests check deliveries with it.
 *
 *   Dropflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, `${t}.${raw body}`)>
 *
 * Check the RAW body (the bytes received, before any JSON parsing), compare in
 * constant time, and refuse a timestamp more than five minutes from now, so that a
 * captured delivery cannot be replayed later. Each delivery attempt is signed afresh:
 * a retried delivery carries a fresh timestamp.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "dropflow-signature";
export const DEFAULT_TOLERANCE_S = 300;

export type VerifyResult = { valid: true; timestamp: number } | { valid: false; reason: string };

export function verifyWebhookSignature(
  header: string | null | undefined, // the Dropflow-Signature header
  rawBody: string | Buffer, // the body exactly as received
  secret: string, // DROPFLOW_WEBHOOK_SECRET
  options: { toleranceSeconds?: number; nowSeconds?: number } = {},
): VerifyResult {
  let timestamp: number | null = null;
  const signatures: string[] = [];
  for (const part of (header ?? "").split(",")) {
    const [name, value = ""] = part.trim().split("=", 2);
    if (name === "t" && /^\d+$/.test(value)) timestamp = Number(value);
    // Several v1 values may come during a secret rotation: any one of them will do.
    if (name === "v1" && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestamp === null || signatures.length === 0) return { valid: false, reason: "malformed signature header" };
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_S)) {
    return { valid: false, reason: "timestamp outside the tolerance" };
  }
  const expected = createHmac("sha256", secret).update(`${timestamp}.`).update(rawBody).digest();
  const matches = signatures.some((signature) => timingSafeEqual(Buffer.from(signature, "hex"), expected));
  return matches ? { valid: true, timestamp } : { valid: false, reason: "signature mismatch" };
}
