/** The sending side of verify.ts: the Dropflow-Signature header of one delivery attempt. */
import { createHmac } from "node:crypto";

export function signWebhook(body: string, secret: string, timestampSeconds: number): string {
  const signature = createHmac("sha256", secret).update(`${timestampSeconds}.${body}`).digest("hex");
  return `t=${timestampSeconds},v1=${signature}`;
}
