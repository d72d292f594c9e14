/**
 * The `Upstash-Signature` QStash puts on every delivery: an HS256 JWT whose `sub` is
 * the URL being called and whose `body` claim is base64url(sha256(raw body)), valid
 * for five minutes. Signed with node:crypto, exactly as the real `Receiver` checks it.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";

const HEADER = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");
const LIFETIME_S = 300;

export interface SignatureClaims {
  iss: "Upstash";
  sub: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  body: string;
}

export function bodyHash(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("base64url");
}

/** Signs `claims` as given (tests use it to forge expired or mis-addressed tokens). */
export function signClaims(signingKey: string, claims: Record<string, unknown>): string {
  const unsigned = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${unsigned}.${createHmac("sha256", signingKey).update(unsigned).digest("base64url")}`;
}

/** The signature of one delivery of `body` to `url`, issued now. */
export function signDelivery(signingKey: string, url: string, body: Uint8Array, nowMs = Date.now()): string {
  const now = Math.floor(nowMs / 1_000);
  const claims: SignatureClaims = {
    iss: "Upstash",
    sub: url,
    exp: now + LIFETIME_S,
    nbf: now,
    iat: now,
    jti: `jwt_${randomBytes(12).toString("base64url")}`,
    body: bodyHash(body),
  };
  return signClaims(signingKey, { ...claims });
}
