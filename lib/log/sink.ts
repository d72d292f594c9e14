/**
 * Where log records go: stdout, and any other sink registered beside it (the
 * searchable log store of lib/logs is one).
 */
import type { LogFormat } from "../config.js";
import { formatPretty } from "./format.js";

export type Level = "debug" | "info" | "warn" | "error";

/** One log event as every sink sees it (already redacted). */
export interface LogRecord {
  time: string;
  level: Level;
  service: string;
  msg: string;
  operation?: string;
  correlation_id?: string;
  duration_ms?: number;
  [field: string]: unknown;
}

/** A record and its JSON line (with trailing newline); `record` is parsed only when a sink reads it. */
export interface LogEntry {
  readonly line: string;
  readonly record: LogRecord;
}

export interface LogSink {
  write(entry: LogEntry): void;
}

/** Writes JSON lines (production, log drains) or the readable dev line to stdout. */
export function stdoutSink(format: LogFormat): LogSink {
  return {
    write(entry) {
      process.stdout.write(format === "json" ? entry.line : `${formatPretty(entry.record)}\n`);
    },
  };
}

/** Keeps records in memory; used by tests and by anything that wants to inspect recent logs. */
export function memorySink(): LogSink & { records: LogRecord[]; lines: string[] } {
  const records: LogRecord[] = [];
  const lines: string[] = [];
  return {
    records,
    lines,
    write(entry) {
      records.push(entry.record);
      lines.push(entry.line);
    },
  };
}
