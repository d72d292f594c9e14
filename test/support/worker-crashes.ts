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
