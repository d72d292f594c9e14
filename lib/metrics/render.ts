/**
 * The Prometheus exposition of GET /api/metrics: prom-client's Registry renders it,
 * from collectors that read the metrics store at scrape time (a function instance
 * keeps no registry of its own worth scraping: every process writes to the store).
 */
import { Registry } from "prom-client";
import type { MetricsStore } from "../kv/metrics-store.js";
import { METRIC_DEFINITIONS, type MetricDefinition } from "./catalogue.js";
import { BUCKET_SEPARATOR, parseLabelField } from "./deltas.js";

interface ExposedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** One stored metric as prom-client's registry asks for it (`get()` at scrape time). */
function storedMetric(definition: MetricDefinition, fields: Record<string, number>) {
  return {
    name: definition.name,
    help: definition.help,
    type: definition.type,
    aggregator: "sum" as const,
    async get() {
      return { name: definition.name, help: definition.help, type: definition.type, aggregator: "sum" as const, values: valuesOf(definition, fields) };
    },
  };
}

function valuesOf(definition: MetricDefinition, fields: Record<string, number>): ExposedValue[] {
  if (definition.type !== "histogram") {
    return Object.entries(fields).map(([field, value]) => ({ labels: parseLabelField(definition, field), value }));
  }
  const series = new Map<string, Record<string, number>>();
  for (const [field, value] of Object.entries(fields)) {
    const at = field.lastIndexOf(BUCKET_SEPARATOR);
    const labels = field.slice(0, at);
    const part = field.slice(at + 1);
    const entry = series.get(labels) ?? {};
    entry[part] = value;
    series.set(labels, entry);
  }
  const values: ExposedValue[] = [];
  for (const [labelField, parts] of series) {
    const labels = parseLabelField(definition, labelField);
    for (const bound of definition.buckets ?? []) {
      values.push({ metricName: `${definition.name}_bucket`, labels: { ...labels, le: bound }, value: parts[String(bound)] ?? 0 });
    }
    const count = parts["+Inf"] ?? 0;
    values.push({ metricName: `${definition.name}_bucket`, labels: { ...labels, le: "+Inf" }, value: count });
    values.push({ metricName: `${definition.name}_sum`, labels, value: parts.sum ?? 0 });
    values.push({ metricName: `${definition.name}_count`, labels, value: count });
  }
  return values;
}

export async function renderMetrics(store: MetricsStore): Promise<{ contentType: string; body: string }> {
  const snapshot = await store.read(METRIC_DEFINITIONS.map((definition) => definition.name));
  const registry = new Registry();
  for (const definition of METRIC_DEFINITIONS) {
    registry.registerMetric(storedMetric(definition, snapshot[definition.name] ?? {}) as unknown as Parameters<Registry["registerMetric"]>[0]);
  }
  return { contentType: registry.contentType, body: await registry.metrics() };
}
