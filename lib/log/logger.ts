/**
 * The structured logger: level, service, operation, correlation id, duration, message,
 * fields. pino serialises (no transports: they are worker threads that break once
 * Vercel bundles the function); our sinks decide where each line goes.
 */
import pino from "pino";
import type { LogFormat, LogLevel } from "../config.js";
import { currentCorrelationId } from "./context.js";
import { redactText, redactValue } from "./redact.js";
import { type LogEntry, type LogRecord, type LogSink, stdoutSink } from "./sink.js";

export type Fields = Record<string, unknown>;

export interface Timer {
  /** Logs `message` (default "<operation> finished") at info with `duration_ms`; returns the duration. */
  finish(message?: string, fields?: Fields): number;
  /** Logs the error at error level with `duration_ms`; returns the duration. */
  finishWithError(error: unknown, message?: string, fields?: Fields): number;
  elapsedMs(): number;
}

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  /** A logger whose records carry these bindings (e.g. `{ operation: "planChunks" }`). */
  child(bindings: Fields & { operation?: string }): Logger;
  /** Starts timing `operation`; the returned timer logs the duration when finished. */
  start(operation: string, fields?: Fields): Timer;
}

interface Settings {
  level: LogLevel;
  format: LogFormat;
  /** Write to stdout (default); tests turn it off and read a memory sink instead. */
  stdout?: boolean;
}

const sinks = new Set<LogSink>();
let settings: Settings = { level: "info", format: "pretty" };
let defaultSink: LogSink | null = stdoutSink(settings.format);
let root: pino.Logger = buildRoot();

function buildRoot(): pino.Logger {
  const destination = {
    write(line: string) {
      let parsed: LogRecord | undefined;
      const entry: LogEntry = {
        line,
        get record() {
          parsed ??= JSON.parse(line) as LogRecord;
          return parsed;
        },
      };
      defaultSink?.write(entry);
      for (const sink of sinks) sink.write(entry);
    },
  };
  return pino(
    {
      level: settings.level,
      base: undefined,
      messageKey: "msg",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Records are already serialised and redacted by redactValue; pino's own `err`
      // serializer would re-wrap them.
      serializers: { err: (value: unknown) => value },
    },
    destination,
  );
}

/** Applies the configured level and format. Called once at start-up by the runtime. */
export function configureLogging(next: Settings): void {
  settings = next;
  defaultSink = next.stdout === false ? null : stdoutSink(next.format);
  root = buildRoot();
}

/** Adds a sink next to stdout; returns a function that removes it. */
export function addLogSink(sink: LogSink): () => void {
  sinks.add(sink);
  return () => sinks.delete(sink);
}

class StructuredLogger implements Logger {
  constructor(private readonly bindings: Fields & { service: string }) {}

  private write(level: "debug" | "info" | "warn" | "error", message: string, fields?: Fields): void {
    // Resolve the root at call time so module-level loggers follow configureLogging().
    if (!root.isLevelEnabled(level)) return;
    const correlationId = currentCorrelationId();
    const merged = redactValue({
      ...this.bindings,
      ...(correlationId ? { correlation_id: correlationId } : {}),
      ...fields,
    }) as Fields;
    root[level](merged, redactText(message));
  }

  debug(message: string, fields?: Fields) {
    this.write("debug", message, fields);
  }
  info(message: string, fields?: Fields) {
    this.write("info", message, fields);
  }
  warn(message: string, fields?: Fields) {
    this.write("warn", message, fields);
  }
  error(message: string, fields?: Fields) {
    this.write("error", message, fields);
  }

  child(bindings: Fields & { operation?: string }): Logger {
    return new StructuredLogger({ ...this.bindings, ...bindings });
  }

  start(operation: string, fields?: Fields): Timer {
    const startedAt = performance.now();
    const log = this.child({ operation, ...fields });
    const elapsedMs = () => Math.round((performance.now() - startedAt) * 10) / 10;
    return {
      elapsedMs,
      finish(message, extra) {
        const duration = elapsedMs();
        log.info(message ?? `${operation} finished`, { duration_ms: duration, ...extra });
        return duration;
      },
      finishWithError(error, message, extra) {
        const duration = elapsedMs();
        log.error(message ?? `${operation} failed`, { duration_ms: duration, err: error, ...extra });
        return duration;
      },
    };
  }
}

/** A logger for one service (capability): `logger("imports")`. */
export function logger(service: string): Logger {
  return new StructuredLogger({ service });
}
