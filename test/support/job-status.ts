/**
 * Waiting for a job or an import to end, the one way suites do it: poll what the caller
 * fetches until it satisfies `until`, or fail after `timeoutMs` saying what it still was.
 *
 *   const status = await waitForImport(app, jobId);
 *   const job = await waitForStatus(() => engine.requireJob(id), { timeoutMs: 20_000 });
 */
import { TERMINAL_STATUSES } from "../../lib/jobs/repository.js";
import type { AppServer } from "./app-server.js";

/** The statuses a job, an import and each of its files end in. */
export const TERMINAL: readonly string[] = TERMINAL_STATUSES;

export const isTerminal = (status: string): boolean => TERMINAL.includes(status);

export interface WaitOptions<T> {
  /** When to stop; for a value with a `status`, by default when that status is terminal. */
  until?: (value: T) => boolean;
  /** Default 60 s. */
  timeoutMs?: number;
  /** Pause between fetches; default 50 ms. */
  intervalMs?: number;
  /** What is awaited, for the timeout's message. */
  what?: string;
}

const terminalStatus = (value: unknown): boolean =>
  typeof value === "object" && value !== null && isTerminal(String((value as { status?: unknown }).status));

export function waitForStatus<T extends { status: string }>(fetchStatus: () => Promise<T>, options?: WaitOptions<T>): Promise<T>;
export function waitForStatus<T>(fetchStatus: () => Promise<T>, options: WaitOptions<T> & { until: (value: T) => boolean }): Promise<T>;
export async function waitForStatus<T>(fetchStatus: () => Promise<T>, options: WaitOptions<T> = {}): Promise<T> {
  const { until = terminalStatus, timeoutMs = 60_000, intervalMs = 50, what = "a terminal status" } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fetchStatus();
    if (until(value)) return value;
    if (Date.now() > deadline) {
      const status = typeof value === "object" && value !== null ? (value as { status?: unknown }).status : undefined;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${status === undefined ? "" : ` (status still ${String(status)})`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The part of GET /api/imports/:id the wait reads; a suite names the rest in T. */
export interface ImportView {
  status: string;
}

/**
 * The import's job and every one of its files terminal. The job's final status is
 * written before (afterFinalise) the files' are, so a suite that reads file statuses
 * right after the wait asks for this instead of the default.
 */
export const importSettled = (view: ImportView & { files: Array<{ status: string }> }): boolean =>
  isTerminal(view.status) && view.files.every((file) => isTerminal(file.status));

/** Polls GET /api/imports/:id on `app` until the import's status is terminal (or `until`). */
export function waitForImport<T extends ImportView = ImportView>(
  app: Pick<AppServer, "api">,
  id: string,
  options: WaitOptions<T> = {},
): Promise<T> {
  const fetchStatus = async () => (await (await app.api(`/api/imports/${id}`)).json()) as T;
  return waitForStatus(fetchStatus, { what: `import ${id} to end`, ...options });
}
