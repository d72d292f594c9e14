/**
 * The metrics port's contract (lib/kv/metrics-store.ts) on both adapters, and the
 * chunk metrics riding the job state store's completion step: applied once however
 * often a chunk is completed (a duplicate delivery), on memory and on real Redis.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import { createJobStateStore, createMetricsStore, MemoryMetrics, type MetricsStore } from "../../lib/kv/index.js";
import type { JobStateStore } from "../../lib/kv/job-state.js";
import { fieldUpdates, labelField } from "../../lib/metrics/deltas.js";
import { METRICS } from "../../lib/metrics/catalogue.js";
import { chunkMetrics } from "../../lib/metrics/jobs.js";
import { renderMetrics } from "../../lib/metrics/render.js";
import { BRIDGE_TOKEN, describeRedis, redisTest } from "../support/redis-fixtures.js";

interface Harness {
  metrics: MetricsStore;
  jobs: JobStateStore;
}

function metricsContract(current: () => Harness): void {
  test("counters add, gauges keep the largest, histograms fill their buckets", async () => {
    const { metrics } = current();
    const kind = `k-${randomUUID()}`;
    await metrics.apply(
      fieldUpdates([
        { metric: "jobsFinished", labels: { kind, status: "completed" }, value: 1 },
        { metric: "jobsFinished", labels: { kind, status: "completed" }, value: 2 },
        { metric: "lastSuccess", labels: { pipeline: kind, source: "all" }, value: 200 },
        { metric: "lastSuccess", labels: { pipeline: kind, source: "all" }, value: 100 },
        { metric: "chunkDuration", labels: { kind }, value: 0.3 },
        { metric: "chunkDuration", labels: { kind }, value: 7 },
      ]),
    );
    const read = await metrics.read([METRICS.jobsFinished.name, METRICS.lastSuccess.name, METRICS.chunkDuration.name]);
    expect(read[METRICS.jobsFinished.name]?.[labelField(METRICS.jobsFinished, { kind, status: "completed" })]).toBe(3);
    expect(read[METRICS.lastSuccess.name]?.[labelField(METRICS.lastSuccess, { pipeline: kind, source: "all" })]).toBe(200);
    const histogram = read[METRICS.chunkDuration.name] ?? {};
    const field = labelField(METRICS.chunkDuration, { kind });
    expect(histogram[`${field}|0.25`]).toBeUndefined();
    expect(histogram[`${field}|0.5`]).toBe(1);
    expect(histogram[`${field}|10`]).toBe(2);
    expect(histogram[`${field}|+Inf`]).toBe(2);
    expect(histogram[`${field}|sum`]).toBeCloseTo(7.3);
    const { body } = await renderMetrics(metrics);
    expect(body).toContain(`dropflow_jobs_finished_total{kind="${kind}",status="completed"} 3`);
    expect(body).toContain(`dropflow_chunk_duration_seconds_bucket{kind="${kind}",le="0.5"} 1`);
    expect(body).toContain(`dropflow_chunk_duration_seconds_count{kind="${kind}"} 2`);
    expect(body).toContain("# TYPE dropflow_chunk_duration_seconds histogram");
  });

  test("a chunk's metrics are applied with its first completion only", async () => {
    const { metrics, jobs } = current();
    const kind = `k-${randomUUID()}`;
    const jobId = `job-${randomUUID()}`;
    await jobs.initJob(jobId, { chunkTotal: 2, rowTotal: 20, startedAtMs: 1 });
    const tally = { rowsDone: 9, rowsFailed: 1, failed: false, counters: { rows_inserted: 9 } };
    const withMetrics = { ...tally, metrics: chunkMetrics(kind, tally, 0.2) };
    expect((await jobs.completeChunk(jobId, 0, withMetrics)).newlyCompleted).toBe(true);
    expect((await jobs.completeChunk(jobId, 0, withMetrics)).newlyCompleted).toBe(false);
    const read = await metrics.read([METRICS.chunks.name, METRICS.rows.name]);
    expect(read[METRICS.chunks.name]?.[labelField(METRICS.chunks, { kind, outcome: "done" })]).toBe(1);
    expect(read[METRICS.rows.name]?.[labelField(METRICS.rows, { kind, outcome: "processed" })]).toBe(9);
    expect(read[METRICS.rows.name]?.[labelField(METRICS.rows, { kind, outcome: "rejected" })]).toBe(1);
    expect((await jobs.getJobState(jobId))?.counters).toMatchObject({ rows_done: 9, rows_inserted: 9, chunks_done: 1 });
  });
}

describe("metrics contract: in memory", () => {
  const memory = new MemoryMetrics();
  const harness = { metrics: createMetricsStore({ driver: "memory" }, memory), jobs: createJobStateStore({ driver: "memory" }, { metrics: memory }) };
  metricsContract(() => harness);
});

describeRedis("metrics contract: Upstash adapter → REST bridge → redis-server", () => {
  let harness: Harness | undefined;
  redisTest.beforeAll(({ bridge, keyPrefix }) => {
    const config = { driver: "upstash" as const, url: bridge.url, token: BRIDGE_TOKEN };
    harness = { metrics: createMetricsStore(config, new MemoryMetrics(), { keyPrefix }), jobs: createJobStateStore(config, { keyPrefix }) };
  });
  metricsContract(() => {
    if (!harness) throw new Error("the Upstash stores were not set up");
    return harness;
  });
});
