/**
 * The one way dropflow builds an `@upstash/redis` client, for every store on Redis:
 * values as Redis returns them, no auto-pipelining, a fresh timeout per request and
 * bounded retries of requests that failed at the network level.
 */
import { Redis } from "@upstash/redis";

export function createUpstashClient(options: { url: string; token: string; requestTimeoutMs?: number; retries?: number }): Redis {
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  return new Redis({
    url: options.url,
    token: options.token,
    // Values are our own numbers and flags; JSON-parsing them would only corrupt big ints.
    automaticDeserialization: false,
    // Batching could reorder a read after the write it must see.
    enableAutoPipelining: false,
    enableTelemetry: false,
    retry: { retries: options.retries ?? 3, backoff: (retry) => Math.min(1_000, 50 * 2 ** retry) },
    // A function, so that every request (and retry) gets a fresh timeout.
    signal: () => AbortSignal.timeout(timeoutMs),
  });
}

/** An HGETALL reply as numbers: without automatic deserialisation it is the flat [field, value, ...] list. */
export function hashOfNumbers(reply: unknown): Record<string, number> {
  const pairs: Array<[string, unknown]> = Array.isArray(reply)
    ? Array.from({ length: reply.length / 2 }, (_, i) => [String(reply[2 * i]), reply[2 * i + 1]])
    : Object.entries((reply ?? {}) as Record<string, unknown>);
  return Object.fromEntries(pairs.map(([field, value]) => [field, Number(value)]));
}

