/**
 * Every function knows its deadline: Vercel's `getDeadline()` when it gives one,
 * else the invocation's start plus DROPFLOW_MAX_DURATION_S; minus a margin that
 * leaves time to checkpoint and hand the rest on instead of being killed mid-write.
 */
import { getDeadline } from "@vercel/functions";
import type { PublishOptions, TaskMessage, TaskQueue } from "../queue/types.js";

export interface TimeBudget {
  /** Epoch ms by which work must have stopped (margin already taken off). */
  readonly deadlineMs: number;
  remainingMs(): number;
  expired(): boolean;
  /** Aborts when the budget runs out: pass it to fetches, retries and long loops. */
  readonly signal: AbortSignal;
  /** A signal for one I/O call: aborts after `ms` or at the deadline, whichever comes first. */
  signalFor(ms: number): AbortSignal;
  dispose(): void;
}

export function startBudget(options: {
  maxDurationMs: number;
  marginMs: number;
  startedAtMs?: number;
  /** For tests; production reads Vercel's. */
  platformDeadline?: () => Date | undefined;
}): TimeBudget {
  const started = options.startedAtMs ?? Date.now();
  const platform = (options.platformDeadline ?? safeVercelDeadline)();
  const hardDeadline = platform ? platform.getTime() : started + options.maxDurationMs;
  const deadlineMs = hardDeadline - options.marginMs;
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error("time budget exhausted")),
    Math.max(0, deadlineMs - Date.now()),
  );
  timer.unref();
  // Timers run on a monotonic clock and may fire a millisecond before Date.now()
  // reaches the deadline: once the signal has aborted, the budget is spent, whatever
  // the wall clock says.
  const spent = () => controller.signal.aborted || Date.now() >= deadlineMs;
  return {
    deadlineMs,
    remainingMs: () => (spent() ? 0 : Math.max(0, deadlineMs - Date.now())),
    expired: spent,
    signal: controller.signal,
    signalFor: (ms) => AbortSignal.any([controller.signal, AbortSignal.timeout(Math.max(1, ms))]),
    dispose: () => clearTimeout(timer),
  };
}

function safeVercelDeadline(): Date | undefined {
  // Off Vercel there is no request context and getDeadline() answers undefined.
  return getDeadline();
}

/**
 * Checkpoint-and-continue: a loop that sees its budget running out publishes the
 * rest of its work as a new message carrying `cursor`, instead of being killed
 * mid-write. The deduplication id includes the cursor, so a retried hand-on is
 * accepted once and a later checkpoint is always a new message.
 */
export async function handOn(
  queue: Pick<TaskQueue, "publish">,
  task: TaskMessage,
  continuation: { key: string; cursor: string },
  options: PublishOptions = {},
): Promise<void> {
  await queue.publish(
    { ...task, payload: { ...(task.payload as Record<string, unknown>), cursor: continuation.cursor } },
    { retries: 3, failureCallback: true, ...options, deduplicationId: `${continuation.key}:${continuation.cursor}` },
  );
}
