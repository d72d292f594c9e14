/**
 * How an upstream call failed, as the sync acts on it (the taxonomy of eMAG's and
 * SAP's failure modes):
 *  - fatal: credentials, IP allow-list, a locked user, configuration. Retrying only
 *    repeats it (and a wrong-password login is slow): the run fails at once with it;
 *  - throttled: the upstream said "too many requests": wait and try again, not a failure;
 *  - transient: 5xx, a gateway page, a reset socket, a hang cut by our timeout: retry
 *    with backoff within the time budget;
 *  - bad data: an answer that does not mean what it must (a non-numeric count, an
 *    envelope without isError): never read as "zero" or "empty"; retried a little
 *    like a transient error, then the page is a gap.
 */
export type UpstreamFailure = "fatal" | "throttled" | "transient" | "bad_data";

export class UpstreamError extends Error {
  constructor(
    readonly failure: UpstreamFailure,
    message: string,
    readonly details: {
      status?: number;
      /** The request used up its whole timeout: retrying it in this invocation would only use up another. */
      timedOut?: boolean;
      /** The invocation's budget ran out before an answer (or a request slot) came: not the upstream's fault. */
      budgetRanOut?: boolean;
      /** Throttled: how long the upstream asked us to wait, if it said. */
      retryAfterMs?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "UpstreamError";
  }
}

export const isUpstreamError = (error: unknown, failure?: UpstreamFailure): error is UpstreamError =>
  error instanceof UpstreamError && (failure === undefined || error.failure === failure);

/** The time budget will not cover another request: stop and hand the rest on. */
export class BudgetSpent extends Error {
  readonly code = "budget_spent";
  constructor(
    message = "the invocation's time budget does not cover another request",
    /** A request used up its own timeout (a hang): the next invocation tries it, a few times at most. */
    readonly timedOut = false,
  ) {
    super(message);
    this.name = "BudgetSpent";
  }
}

/** How a request ended, as the upstream request metric labels it. */
export function requestOutcome(error: unknown): string {
  return error instanceof UpstreamError ? error.failure : "error";
}

/** Runs one upstream request, reporting its outcome and latency. */
export async function observed<T>(report: ((outcome: string, seconds: number) => void) | undefined, request: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const result = await request();
    report?.("ok", (performance.now() - started) / 1000);
    return result;
  } catch (error) {
    report?.(requestOutcome(error), (performance.now() - started) / 1000);
    throw error;
  }
}
