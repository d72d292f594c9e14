/**
 * The log store sink: the records worth searching later (WARN and above, and every
 * job lifecycle event) go to Postgres in batches, off the request's path. Its buffer
 * is bounded: when full, a record is dropped and counted, so logging never blocks a
 * request and never grows without bound. One write at a time; a flush waits for
 * the buffer to be written (the route wrapper keeps each request's function alive
 * for it with `waitUntil`; the dev server flushes on shutdown).
 */
import type { LogEntry, LogRecord, LogSink } from "../log/index.js";

/** The job lifecycle events that are searchable whatever their level. */
export const LIFECYCLE_EVENTS = new Set([
  "job_created",
  "job_planned",
  "chunk_claimed",
  "chunk_completed",
  "chunk_retried",
  "chunk_failed",
  "chunk_cancelled",
  "chunk_throttled",
  "chunk_recovered",
  "step_published",
  "step_done",
  "step_handed_on",
  "job_finalised",
  "job_failed",
  "job_cancelled",
  "state_restored",
  "chunks_republished",
]);

const MAYBE_SEARCHABLE = /"level":"(?:warn|error)"|"event":"/;

export function isSearchable(record: LogRecord): boolean {
  return record.level === "warn" || record.level === "error" || (typeof record.event === "string" && LIFECYCLE_EVENTS.has(record.event));
}

export interface LogStoreSinkOptions {
  /** Writes one batch (the log store); a failure drops the batch and counts it. */
  writeBatch(records: LogRecord[]): Promise<void>;
  /** Records held at most; more are dropped. */
  capacity?: number;
  /** Records per insert. */
  batchSize?: number;
  /** A write starts on its own once this many records wait (or on flush). */
  flushAt?: number;
  /** Told how many were dropped since the last report (for the metrics). */
  onDropped?(count: number): void;
  /** Where the sink reports its own failures (not the logger: that would feed itself). */
  reportFailure?(message: string): void;
}

export interface LogStoreSink extends LogSink {
  /** Writes everything buffered now (and what arrives meanwhile), one batch at a time. */
  flush(): Promise<void>;
  stats(): { buffered: number; dropped: number; written: number; failedBatches: number };
}

export const DEFAULT_LOG_BUFFER = 10_000;

export function createLogStoreSink(options: LogStoreSinkOptions): LogStoreSink {
  const capacity = options.capacity ?? DEFAULT_LOG_BUFFER;
  const batchSize = options.batchSize ?? 500;
  const flushAt = options.flushAt ?? batchSize;
  let buffer: LogRecord[] = [];
  let dropped = 0;
  let unreported = 0;
  let written = 0;
  let failedBatches = 0;
  let writing: Promise<void> | null = null;

  const drop = (count: number) => {
    dropped += count;
    unreported += count;
  };

  async function drain(): Promise<void> {
    while (buffer.length > 0) {
      const batch = buffer.slice(0, batchSize);
      buffer = buffer.slice(batch.length);
      try {
        await options.writeBatch(batch);
        written += batch.length;
      } catch (error) {
        failedBatches += 1;
        drop(batch.length);
        options.reportFailure?.(`log store: ${batch.length} records not written: ${failureText(error)}`);
      }
    }
    if (unreported > 0) {
      const count = unreported;
      unreported = 0;
      options.onDropped?.(count);
    }
  }

  function startWriting(): Promise<void> {
    writing ??= drain().finally(() => {
      writing = null;
    });
    return writing;
  }

  return {
    write(entry: LogEntry) {
      // Most lines are neither: tell from the JSON line before parsing the record.
      if (!MAYBE_SEARCHABLE.test(entry.line)) return;
      const record = entry.record;
      if (!isSearchable(record)) return;
      if (buffer.length >= capacity) {
        drop(1);
        return;
      }
      // Which process logged it: following a correlation id across workers shows them apart.
      buffer.push({ ...record, pid: process.pid });
      if (buffer.length >= flushAt) void startWriting();
    },
    async flush() {
      // A write in progress may have started before the latest records: go on until none wait.
      while (writing || buffer.length > 0) await startWriting();
    },
    stats: () => ({ buffered: buffer.length, dropped, written, failedBatches }),
  };
}

/** The driver's own reason, short: the failed statement and its parameters (the records) stay out of it. */
function failureText(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const text = cause instanceof Error ? cause.message : String(cause);
  return (text.split("\n")[0] ?? "").slice(0, 200);
}
