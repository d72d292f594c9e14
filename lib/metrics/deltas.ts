/**
 * What a piece of work adds to the metrics, and how that becomes field updates of
 * one hash per metric in the metrics store: a counter adds to its label set's field,
 * a gauge keeps the largest value (timestamps), a histogram adds one to every bucket
 * at or above the value and to its count, and the value to its sum.
 */
import { type MetricDefinition, METRICS, type MetricKey } from "./catalogue.js";

export type Labels = Readonly<Record<string, string>>;

export interface MetricDelta {
  metric: MetricKey;
  labels: Labels;
  /** Counter: the amount; histogram: one observation; gauge: a value kept if larger. */
  value: number;
}

/** One field update: `add` sums (floats allowed), `max` keeps the larger. */
export interface FieldUpdate {
  metric: string;
  field: string;
  op: "add" | "max";
  value: number;
}

/** A label set as a hash field: values in the definition's label order, JSON-encoded. */
export function labelField(definition: MetricDefinition, labels: Labels): string {
  return JSON.stringify(definition.labels.map((name) => String(labels[name] ?? "")));
}

export function parseLabelField(definition: MetricDefinition, field: string): Record<string, string> {
  const values = JSON.parse(field) as string[];
  return Object.fromEntries(definition.labels.map((name, i) => [name, values[i] ?? ""]));
}

export const BUCKET_SEPARATOR = "|";

export function fieldUpdates(deltas: readonly MetricDelta[]): FieldUpdate[] {
  const updates: FieldUpdate[] = [];
  for (const delta of deltas) {
    const definition: MetricDefinition = METRICS[delta.metric];
    if (!Number.isFinite(delta.value)) continue;
    const field = labelField(definition, delta.labels);
    if (definition.type === "counter") updates.push({ metric: definition.name, field, op: "add", value: delta.value });
    else if (definition.type === "gauge") updates.push({ metric: definition.name, field, op: "max", value: delta.value });
    else {
      for (const bound of definition.buckets ?? []) {
        if (delta.value <= bound) updates.push({ metric: definition.name, field: `${field}${BUCKET_SEPARATOR}${bound}`, op: "add", value: 1 });
      }
      updates.push({ metric: definition.name, field: `${field}${BUCKET_SEPARATOR}+Inf`, op: "add", value: 1 });
      updates.push({ metric: definition.name, field: `${field}${BUCKET_SEPARATOR}sum`, op: "add", value: delta.value });
    }
  }
  return updates;
}
