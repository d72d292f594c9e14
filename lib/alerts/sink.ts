/**
 * The log sink that raises alerts: every ERROR record, and every job that ends failed
 * or with gaps (the engine's `job_finalised` event), through the rate-limited sender.
 */
import type { LogEntry, LogSink } from "../log/index.js";
import type { AlertSender } from "./sender.js";

const ALERT_STATUSES = new Set(["failed", "completed_with_gaps"]);
const MAYBE_ALERT = /"level":"error"|"event":"job_finalised"|"event":"job_failed"/;

export function alertSink(sender: AlertSender, options: { publicBaseUrl: () => string | null; track?(pending: Promise<unknown>): void }): LogSink {
  return {
    write(entry: LogEntry) {
      if (!MAYBE_ALERT.test(entry.line)) return;
      const record = entry.record;
      const jobId = typeof record.job_id === "string" ? record.job_id : undefined;
      const base = options.publicBaseUrl();
      const link = jobId && base ? `${base}/api/jobs/${jobId}` : undefined;
      const correlationId = record.correlation_id;
      let pending: Promise<unknown> | null = null;
      if ((record.event === "job_finalised" || record.event === "job_failed") && (record.event === "job_failed" || ALERT_STATUSES.has(String(record.status)))) {
        pending = sender.alert({ title: `job ${jobId ?? "?"} ended ${String(record.status ?? "failed")}`, detail: record.msg, link, correlationId });
      } else if (record.level === "error") {
        pending = sender.alert({ title: `ERROR in ${record.service}${record.operation ? ` (${record.operation})` : ""}`, detail: record.msg.slice(0, 500), link, correlationId });
      }
      if (pending) options.track?.(pending);
    },
  };
}
