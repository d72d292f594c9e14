/**
 * One HTTP request to an upstream with its own timeout, cut short by the invocation's
 * budget, and its network failures classified (errors.ts). Bodies are read here, so a
 * body that stalls counts against the same timeout.
 */
import { UpstreamError } from "./errors.js";

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  text: string;
}

export interface UpstreamRequest {
  url: string;
  method: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** This request's own timeout. */
  timeoutMs: number;
  /** What is left of the invocation's budget: the request is cut short to it. */
  timeLeftMs?: number;
  /** The invocation's budget: aborts the request when the budget runs out. */
  budget?: AbortSignal;
}

export async function sendUpstream(request: UpstreamRequest): Promise<UpstreamResponse> {
  const ownMs = Math.max(1, request.timeoutMs);
  // A request cut short by the budget that then runs out is not a hang of the
  // upstream: it must not count towards the timeouts that make a page a gap.
  const cutMs = request.timeLeftMs === undefined ? ownMs : Math.max(1, Math.min(ownMs, request.timeLeftMs));
  const timer = AbortSignal.timeout(cutMs);
  const signal = request.budget ? AbortSignal.any([timer, request.budget]) : timer;
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal,
      redirect: "manual",
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text };
  } catch (error) {
    if (timer.aborted && cutMs === ownMs) {
      throw new UpstreamError("transient", `no answer within ${request.timeoutMs} ms`, { timedOut: true, cause: error });
    }
    if (timer.aborted || request.budget?.aborted) {
      throw new UpstreamError("transient", "the invocation's time budget ran out during the request", { budgetRanOut: true, cause: error });
    }
    throw new UpstreamError("transient", `network error: ${describeNetworkError(error)}`, { cause: error });
  }
}

function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}

/** An HTTP status that a retry may fix. */
export const isTransientStatus = (status: number) => status >= 500 || status === 408;
