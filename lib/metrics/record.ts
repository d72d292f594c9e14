/**
 * Adding to the metrics from request handlers and workers: best effort (a statistic,
 * not data), off the response's critical path, and on Vercel kept alive past the
 * response with `waitUntil`. A failure is logged, never thrown at the work it counts.
 */
import { waitUntil } from "@vercel/functions";
import type { MetricsStore } from "../kv/metrics-store.js";
import { logger } from "../log/index.js";
import { fieldUpdates, type MetricDelta } from "./deltas.js";

const log = logger("metrics");

export function recordMetrics(store: MetricsStore, deltas: readonly MetricDelta[]): void {
  if (deltas.length === 0) return;
  waitUntil(applyMetrics(store, deltas));
}

/** The same, for a caller that waits for it (a worker about to commit, which may die right after). */
export async function applyMetrics(store: MetricsStore, deltas: readonly MetricDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  try {
    await store.apply(fieldUpdates(deltas));
  } catch (error) {
    log.warn("metrics not recorded", { err: error, metrics: [...new Set(deltas.map((delta) => delta.metric))].join(",") });
  }
}
