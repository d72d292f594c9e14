/**
 * Per-request context (correlation id) carried through async calls. Vercel's Fluid
 * compute runs many invocations in one process, so this must never be a global.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

export interface LogContext {
  correlationId: string;
}

const storage = new AsyncLocalStorage<LogContext>();

/** Headers a caller may use to hand us its correlation id, in order of preference. */
export const CORRELATION_HEADERS = ["x-correlation-id", "x-request-id"] as const;

// Ids end up in log lines and response headers: accept only a safe, short alphabet.
const SAFE_ID = /^[A-Za-z0-9._:@/-]{1,128}$/;

export function newCorrelationId(): string {
  return randomUUID();
}

/** The caller's correlation id if it is usable, else a new one. */
export function correlationIdFrom(headers: Headers): string {
  for (const name of CORRELATION_HEADERS) {
    const value = headers.get(name)?.trim();
    if (value && SAFE_ID.test(value)) return value;
  }
  return newCorrelationId();
}

export function runWithContext<T>(context: LogContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function currentContext(): LogContext | undefined {
  return storage.getStore();
}

export function currentCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}
