/**
 * Retries of one upstream call: jittered exponential backoff, bounded by the attempts
 * allowed and by the time budget. A request that used up its own timeout is not
 * retried in this invocation (retrying a 90 s timeout multiplies it); a throttled call
 * waits what the upstream asked. Fatal errors are never retried.
 */
import { BudgetSpent, UpstreamError } from "./errors.js";

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 8_000 };

export interface RetryContext {
  /** Milliseconds left of the invocation's budget. */
  timeLeftMs(): number;
  /** What the next attempt needs at least (its request's timeout): no attempt starts without it. */
  attemptNeedsMs: number;
  onRetry?(error: UpstreamError, attempt: number, delayMs: number): void;
  /** For tests: the jitter source. */
  random?: () => number;
}

/** Full jitter: a random delay up to the exponential bound, so workers that failed together do not retry together. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const bound = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(bound / 2 + (random() * bound) / 2);
}

export async function withRetries<T>(call: (attempt: number) => Promise<T>, policy: RetryPolicy, ctx: RetryContext): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt);
    } catch (error) {
      if (!(error instanceof UpstreamError) || error.failure === "fatal") throw error;
      if (error.details.budgetRanOut) throw new BudgetSpent(`the time budget ran out: ${error.message}`);
      if (error.details.timedOut) throw new BudgetSpent(`stopped after a request used up its timeout: ${error.message}`, true);
      if (attempt >= policy.attempts && error.failure !== "throttled") throw error;
      const delayMs =
        error.failure === "throttled" && error.details.retryAfterMs !== undefined
          ? error.details.retryAfterMs
          : backoffDelay(policy, attempt, ctx.random);
      if (ctx.timeLeftMs() - delayMs < ctx.attemptNeedsMs) {
        if (error.failure === "throttled") throw error;
        throw new BudgetSpent(`no time left to retry after: ${error.message}`);
      }
      ctx.onRetry?.(error, attempt, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
