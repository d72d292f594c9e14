/**
 * The job engine's metrics: what one completed chunk adds (rows, the chunk, its
 * duration), applied by the job state store in the chunk's completion step, and what
 * a job's end adds (its final status, and the time of the kind's last success).
 */
import type { FieldUpdate } from "./deltas.js";
import { fieldUpdates, type MetricDelta } from "./deltas.js";

export function chunkMetrics(kind: string, outcome: { rowsDone: number; rowsFailed: number; failed: boolean }, durationS: number | null): FieldUpdate[] {
  const deltas: MetricDelta[] = [
    { metric: "chunks", labels: { kind, outcome: outcome.failed ? "failed" : "done" }, value: 1 },
    { metric: "rows", labels: { kind, outcome: "processed" }, value: outcome.rowsDone },
    { metric: "rows", labels: { kind, outcome: "rejected" }, value: outcome.rowsFailed },
  ];
  if (durationS !== null) deltas.push({ metric: "chunkDuration", labels: { kind }, value: durationS });
  return fieldUpdates(deltas);
}

export function jobEndMetrics(kind: string, status: string, nowMs: number = Date.now()): MetricDelta[] {
  const deltas: MetricDelta[] = [{ metric: "jobsFinished", labels: { kind, status }, value: 1 }];
  if (status === "completed") deltas.push({ metric: "lastSuccess", labels: { pipeline: kind, source: "all" }, value: Math.floor(nowMs / 1000) });
  return deltas;
}
