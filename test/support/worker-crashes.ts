import { expect } from "vitest";
import type { LocalServices } from "../../dev/services.js";

/**
 * At least one of the original workers crashed at its Nth commit (the crash knob) and
 * was replaced. Not necessarily every one: under load deliveries can fall unevenly, and
 * a worker that committed fewer than N chunks lives on (CI saw this once).
 */
export function expectAWorkerCrashed(services: LocalServices, before: readonly number[]): void {
  const survivors = services.workerPids().filter((pid) => before.includes(pid));
  expect(survivors.length).toBeLessThan(before.length);
}

/** Long enough for any answer of a loaded worker; a hung connection fails instead of the whole test. */
const REQUEST_TIMEOUT_MS = 20_000;

/**
 * `fetch` of a path on local services whose workers die on purpose: a request that
 * hit a dying worker (reset, refused until a replacement listens, or no answer) is
 * sent again, for up to about 20 s of failures.
 */
export async function requestSurvivingCrashes(services: LocalServices, path: string, init: RequestInit = {}): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(`${services.baseUrl}${path}`, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (error) {
      const retryable = error instanceof TypeError || (error instanceof DOMException && error.name === "TimeoutError");
      if (!retryable || attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
