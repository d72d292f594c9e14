/**
 * Following a job to its end: its status fetched every POLL_MS and drawn by a progress
 * display, until `settled` holds (by default: the status is final). Ctrl-C stops the
 * following, not the job: the user is told how to look at it again.
 */
import { CliError } from "./exit-codes.js";
import type { ProgressDisplay } from "./progress.js";
import { isActive, type JobStatus } from "./responses.js";

const POLL_MS = 500;

export interface FollowOptions<T> {
  /** When to stop; by default once the status is final. */
  settled?: (value: T) => boolean;
  /** The job's id, for the hint after Ctrl-C. */
  jobId: string;
}

export async function follow<T extends { status: JobStatus }>(
  fetchStatus: () => Promise<T>,
  display: ProgressDisplay<NoInfer<T>>,
  options: FollowOptions<T>,
): Promise<T> {
  const settled = options.settled ?? ((value: T) => !isActive(value.status));
  const interrupted = new AbortController();
  const onInterrupt = () => interrupted.abort();
  process.once("SIGINT", onInterrupt);
  try {
    for (;;) {
      let value: T;
      try {
        value = await fetchStatus();
      } catch (error) {
        // The job does not stop with the CLI: say how to look at it again.
        if (!(error instanceof CliError) || error.code === "interrupted") throw error;
        throw new CliError(error.code, `${error.message}; job ${options.jobId} may still be running (dropflow status ${options.jobId})`, {
          ...error.details,
          job_id: options.jobId,
        });
      }
      display.update(value);
      if (settled(value)) return value;
      await pause(POLL_MS, interrupted.signal);
      if (interrupted.signal.aborted) {
        throw new CliError("interrupted", `stopped following; job ${options.jobId} goes on (dropflow status ${options.jobId})`, {
          job_id: options.jobId,
        });
      }
    }
  } finally {
    process.removeListener("SIGINT", onInterrupt);
    display.stop();
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
