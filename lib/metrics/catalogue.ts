/**
 * Every metric dropflow exposes, with its type, help text and labels: the one list
 * that the writers (deltas.ts), the stores and the exposition (render.ts) share. Label
 * sets are bounded: routes are the api/ files' operation names, kinds, statuses,
 * sources and outcomes are small enums, never ids.
 */
export type MetricType = "counter" | "gauge" | "histogram";

export interface MetricDefinition {
  name: string;
  type: MetricType;
  help: string;
  labels: readonly string[];
  /** Histograms: upper bounds of the buckets (seconds), +Inf added. */
  buckets?: readonly number[];
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const;

export const METRICS = {
  httpRequests: {
    name: "dropflow_http_requests_total",
    type: "counter",
    help: "HTTP requests answered, by route (operation), method and status code.",
    labels: ["route", "method", "status"],
  },
  httpDuration: {
    name: "dropflow_http_request_duration_seconds",
    type: "histogram",
    help: "Time to answer an HTTP request, by route (operation).",
    labels: ["route"],
    buckets: DURATION_BUCKETS,
  },
  jobsFinished: {
    name: "dropflow_jobs_finished_total",
    type: "counter",
    help: "Jobs that ended, by kind and final status.",
    labels: ["kind", "status"],
  },
  rows: {
    name: "dropflow_rows_total",
    type: "counter",
    help: "Rows (or items, invoices) done by committed chunks, by kind and outcome (processed, rejected).",
    labels: ["kind", "outcome"],
  },
  chunks: {
    name: "dropflow_chunks_total",
    type: "counter",
    help: "Chunks completed, by kind and outcome (done, failed); a chunk delivered twice counts once.",
    labels: ["kind", "outcome"],
  },
  chunkDuration: {
    name: "dropflow_chunk_duration_seconds",
    type: "histogram",
    help: "Time a chunk took from its claim to its completion, by kind.",
    labels: ["kind"],
    buckets: DURATION_BUCKETS,
  },
  deliveries: {
    name: "dropflow_queue_deliveries_total",
    type: "counter",
    help: "Task deliveries from the queue, by task type and outcome (done, duplicate, retried, throttled, failed).",
    labels: ["task", "outcome"],
  },
  upstreamRequests: {
    name: "dropflow_upstream_requests_total",
    type: "counter",
    help: "Requests to eMAG and SAP, by source and outcome (ok, throttled, transient, bad_data, fatal).",
    labels: ["source", "outcome"],
  },
  upstreamDuration: {
    name: "dropflow_upstream_request_duration_seconds",
    type: "histogram",
    help: "Time an upstream request took, by source.",
    labels: ["source"],
    buckets: DURATION_BUCKETS,
  },
  watchdog: {
    name: "dropflow_watchdog_actions_total",
    type: "counter",
    help: "What the watchdog did with stuck work: chunks republished or failed, states restored, plans republished, jobs failed or finalised.",
    labels: ["action"],
  },
  lastSuccess: {
    name: "dropflow_last_success_timestamp_seconds",
    type: "gauge",
    help: "When a run of the pipeline last completed (Unix time), by pipeline and source (sync) or 'all'.",
    labels: ["pipeline", "source"],
  },
  retentionDeleted: {
    name: "dropflow_retention_deleted_total",
    type: "counter",
    help: "What the retention sweep deleted, by what (log_records, row_errors, dry_run_rows, chunk_rows, files).",
    labels: ["what"],
  },
  logRecordsDropped: {
    name: "dropflow_log_records_dropped_total",
    type: "counter",
    help: "Log records the searchable-log sink dropped because its buffer was full.",
    labels: [],
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;

export const METRIC_DEFINITIONS: readonly MetricDefinition[] = Object.values(METRICS);
