/**
 * A run's request statistics (requests, 429s, retries, logins), summed over every
 * invocation and attempt of the run, also those whose chunk never committed: kept in
 * the sync state store, not in the chunks' exactly-once counters. Counted locally and
 * added in one call when the invocation's work ends.
 */
import type { MetricsStore } from "../kv/metrics-store.js";
import type { SyncStateStore } from "../kv/sync-state.js";
import type { MetricDelta } from "../metrics/deltas.js";
import { applyMetrics } from "../metrics/record.js";

export const STAT_NAMES = ["requests", "throttled", "retries", "logins", "logouts"] as const;
export type StatName = (typeof STAT_NAMES)[number];

/** Past any run's life; the run's end copies the sums into the job's counters. */
const STATS_TTL_MS = 30 * 24 * 60 * 60 * 1000;

const statsKey = (jobId: string) => `run-stats:${jobId}`;

export class RunStats {
  private pending: Partial<Record<StatName, number>> = {};
  private requests: MetricDelta[] = [];

  constructor(
    private readonly store: SyncStateStore,
    private readonly jobId: string,
    /** Where each upstream request's outcome and latency go (dropflow_upstream_*). */
    private readonly metrics?: { store: MetricsStore; source: string },
  ) {}

  count(name: StatName, n = 1): void {
    this.pending[name] = (this.pending[name] ?? 0) + n;
  }

  /**
   * One upstream request is about to go out: counted in the store before it is sent, so
   * a worker killed while it waits for the answer has counted it.
   */
  async sending(): Promise<void> {
    this.count("requests");
    await this.flush();
  }

  /** One upstream request ended: `outcome` is ok or the failure class (errors.ts). */
  request(outcome: string, seconds: number): void {
    if (!this.metrics) return;
    const source = this.metrics.source;
    this.requests.push(
      { metric: "upstreamRequests", labels: { source, outcome }, value: 1 },
      { metric: "upstreamDuration", labels: { source }, value: seconds },
    );
  }

  async flush(): Promise<void> {
    const counts = this.pending;
    this.pending = {};
    const requests = this.requests;
    this.requests = [];
    if (this.metrics) await applyMetrics(this.metrics.store, requests);
    if (Object.keys(counts).length > 0) await this.store.addCounts(statsKey(this.jobId), counts as Record<string, number>, STATS_TTL_MS);
  }
}

export async function readRunStats(store: SyncStateStore, jobId: string): Promise<Record<StatName, number>> {
  const counts = await store.readCounts(statsKey(jobId));
  return Object.fromEntries(STAT_NAMES.map((name) => [name, counts[name] ?? 0])) as Record<StatName, number>;
}
