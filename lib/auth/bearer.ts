/**
 * Bearer-token checks for API and cron routes. Comparison is constant-time: both
 * sides are hashed to fixed-length digests first, so neither the content nor the
 * length of a guess leaks through timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** The token of an `Authorization: Bearer <token>` header; null for any other shape. */
export function bearerToken(header: string | null): string | null {
  if (!header) return null;
  const match = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header);
  return match?.[1] ?? null;
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** True when `presented` equals one of `accepted`; every candidate is compared, match or not. */
export function matchesAnyToken(presented: string | null, accepted: readonly string[]): boolean {
  if (presented === null) return false;
  let matched = false;
  for (const token of accepted) {
    // Non-short-circuit OR: the loop takes the same time whichever token matches.
    matched = constantTimeEqual(presented, token) || matched;
  }
  return matched;
}
