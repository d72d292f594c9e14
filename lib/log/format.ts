import type { LogRecord } from "./sink.js";

const RESERVED = new Set(["time", "level", "service", "msg", "operation", "correlation_id", "duration_ms"]);

/**
 * The readable development line (`LOG_FORMAT=pretty`, the default outside production):
 * `2025-07-18 19:17:59.344 [INFO] [imports] [planChunks] [req-123] [41ms] planned chunks file=a.csv chunks=120`
 * Absent parts (operation, correlation id, duration) are left out.
 */
export function formatPretty(record: LogRecord): string {
  const parts = [localTimestamp(new Date(record.time)), `[${record.level.toUpperCase()}]`, `[${record.service}]`];
  if (record.operation) parts.push(`[${record.operation}]`);
  if (record.correlation_id) parts.push(`[${record.correlation_id}]`);
  if (typeof record.duration_ms === "number") parts.push(`[${Math.round(record.duration_ms)}ms]`);
  parts.push(record.msg);
  // A field whose value the message already shows (`GET /api/health 200`) is not repeated.
  const shown = new Set(record.msg.split(/\s+/));
  for (const [key, value] of Object.entries(record)) {
    if (RESERVED.has(key) || value === undefined) continue;
    const text = formatValue(value);
    if (shown.has(text)) continue;
    parts.push(`${key}=${text}`);
  }
  return parts.join(" ");
}

function formatValue(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return JSON.stringify(value);
}

function localTimestamp(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
  );
}
