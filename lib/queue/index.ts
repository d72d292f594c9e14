/**
 * The task queue on QStash (docs/job-engine.md): publishes task messages to
 * `${publicBaseUrl}/api/tasks/<type>` and verifies the signature of each delivery.
 * The same code talks to Upstash in production and to the local stand-in
 * (dev/qstash) everywhere else; only `url` and the keys differ.
 *
 * Dev mode of the SDK is pinned off: it would swap our keys for Upstash's public dev
 * keys (which anyone can sign with) and try to download a binary.
 */
import { type FlowControl as SdkFlowControl, Client, type PublishRequest, QstashError, Receiver } from "@upstash/qstash";
import { AppError } from "../errors.js";
import type { QueueConfig } from "../config.js";
import { logger } from "../log/index.js";
import {
  type FlowControl,
  type PublishOptions,
  type PublishResult,
  type TaskMessage,
  TaskMessageSchema,
  type TaskPublication,
  type TaskQueue,
} from "./types.js";

export * from "./types.js";

export type QstashQueueSettings = Omit<Extract<QueueConfig, { mode: "qstash" }>, "mode">;

export interface TaskQueueOptions {
  /** Messages per batch request. */
  batchSize?: number;
  /** Tries per batch (or single publish) when QStash answers 5xx/429 or refuses some entries. */
  publishAttempts?: number;
  /** First wait between those tries; doubles each time. */
  retryBaseMs?: number;
}

export const DEFAULT_RETRIES = 3;
export const CORRELATION_HEADER = "x-correlation-id";
export const TASKS_PATH = "/api/tasks";
export const FAILURE_CALLBACK_PATH = `${TASKS_PATH}/failure`;

/** Signatures are checked with this much leeway for clock skew between QStash and us (seconds). */
const CLOCK_TOLERANCE_S = 5;

const log = logger("queue");

export interface PublishFailure {
  /** Position in the list given to publishMany (0 for publish). */
  index: number;
  type: string;
  deduplicationId: string | null;
  reason: string;
}

/**
 * Some task messages could not be handed to QStash. `results` holds what was
 * published (null where not), so the caller can tell exactly what is in flight.
 */
export class QueuePublishError extends AppError {
  constructor(
    readonly failures: PublishFailure[],
    readonly results: Array<PublishResult | null>,
    options: { misconfigured?: boolean; cause?: unknown } = {},
  ) {
    const shown = failures
      .slice(0, 5)
      .map((f) => `#${f.index} ${f.type}${f.deduplicationId ? ` (${f.deduplicationId})` : ""}: ${f.reason}`);
    const more = failures.length > shown.length ? `; and ${failures.length - shown.length} more` : "";
    super(
      options.misconfigured ? "misconfigured" : "service_unavailable",
      `${failures.length} of ${results.length} task message(s) could not be published: ${shown.join("; ")}${more}`,
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.name = "QueuePublishError";
  }
}

export function createTaskQueue(
  settings: QstashQueueSettings,
  publicBaseUrl: string,
  options: TaskQueueOptions = {},
): TaskQueue {
  const baseUrl = publicBaseUrl.replace(/\/+$/, "");
  const batchSize = options.batchSize ?? 100;
  const attempts = Math.max(1, options.publishAttempts ?? 3);
  const retryBaseMs = options.retryBaseMs ?? 200;
  const client = new Client({
    token: settings.token,
    baseUrl: settings.url,
    devMode: false,
    // The SDK retries only network failures this way; HTTP errors come back to us.
    retry: { retries: 3, backoff: (retryCount) => Math.exp(retryCount) * 50 },
  });
  const receiver = new Receiver({
    currentSigningKey: settings.currentSigningKey,
    nextSigningKey: settings.nextSigningKey,
    devMode: false,
  });

  /**
   * A fresh SDK request per call: batchJSON stringifies `body` in place, so a request
   * object sent twice would carry a doubly encoded body the second time.
   */
  function toRequest(item: TaskPublication): PublishRequest<TaskMessage> & { url: string } {
    const task = TaskMessageSchema.parse(item.task);
    if (`${TASKS_PATH}/${task.type}` === FAILURE_CALLBACK_PATH) {
      throw new Error(`task type "${task.type}" is reserved: its path is the failure callback's`);
    }
    const publish = item.options ?? {};
    const headers: Record<string, string> = { [CORRELATION_HEADER]: task.correlation_id };
    if (publish.failureCallback) {
      // So the failure callback's request log carries the task's correlation id too.
      headers[`Upstash-Failure-Callback-Forward-${CORRELATION_HEADER}`] = task.correlation_id;
    }
    return {
      url: `${baseUrl}${TASKS_PATH}/${task.type}`,
      body: task,
      headers,
      retries: publish.retries ?? DEFAULT_RETRIES,
      ...(publish.delaySeconds !== undefined && publish.delaySeconds > 0 ? { delay: publish.delaySeconds } : {}),
      ...(publish.deduplicationId !== undefined ? { deduplicationId: publish.deduplicationId } : {}),
      ...(publish.failureCallback ? { failureCallback: `${baseUrl}${FAILURE_CALLBACK_PATH}` } : {}),
      ...(publish.flowControl ? { flowControl: toFlowControl(publish.flowControl) } : {}),
      ...(publish.timeoutSeconds !== undefined ? { timeout: Math.max(1, Math.ceil(publish.timeoutSeconds)) } : {}),
    };
  }

  async function publish(task: TaskMessage, publishOptions?: PublishOptions): Promise<PublishResult> {
    const item: TaskPublication = publishOptions ? { task, options: publishOptions } : { task };
    toRequest(item); // validate before any network call
    for (let attempt = 1; ; attempt += 1) {
      try {
        const response = await client.publishJSON(toRequest(item));
        const result = resultOf(response);
        if (typeof result === "string") throw new QueuePublishError([failureOf(item, 0, result)], [null]);
        return result;
      } catch (error) {
        if (error instanceof QueuePublishError) throw error;
        if (attempt >= attempts || !isRetryable(error)) {
          throw new QueuePublishError([failureOf(item, 0, describe(error))], [null], {
            misconfigured: isAuthFailure(error),
            cause: error,
          });
        }
        await sleep(retryBaseMs * 2 ** (attempt - 1));
      }
    }
  }

  /**
   * One batch, retried while QStash answers 5xx/429 or refuses some entries (only
   * those are sent again). Returns what still failed after the last try.
   */
  async function publishBatch(
    batch: Array<{ item: TaskPublication; index: number }>,
    results: Array<PublishResult | null>,
  ): Promise<{ failures: PublishFailure[]; error: unknown }> {
    let pending = batch;
    for (let attempt = 1; ; attempt += 1) {
      const failures: PublishFailure[] = [];
      try {
        const responses = await client.batchJSON(pending.map(({ item }) => toRequest(item)));
        if (responses.length !== pending.length) {
          throw new QstashError(`QStash answered ${responses.length} results for ${pending.length} messages`, 502);
        }
        pending.forEach((entry, position) => {
          const result = resultOf(responses[position]);
          if (typeof result === "string") failures.push(failureOf(entry.item, entry.index, result));
          else results[entry.index] = result;
        });
      } catch (error) {
        const all = pending.map(({ item, index }) => failureOf(item, index, describe(error)));
        if (attempt >= attempts || !isRetryable(error)) return { failures: all, error };
        log.warn("publishing a batch of task messages failed; retrying", { messages: pending.length, attempt, reason: describe(error) });
        await sleep(retryBaseMs * 2 ** (attempt - 1));
        continue;
      }
      if (failures.length === 0 || attempt >= attempts) return { failures, error: null };
      const failed = new Set(failures.map((failure) => failure.index));
      pending = pending.filter(({ index }) => failed.has(index));
      log.warn("QStash refused some task messages; retrying them", {
        failed: failures.length,
        attempt,
        first_reason: failures[0]?.reason,
      });
      await sleep(retryBaseMs * 2 ** (attempt - 1));
    }
  }

  async function publishMany(items: TaskPublication[]): Promise<PublishResult[]> {
    for (const item of items) toRequest(item); // validate them all before publishing any
    const results: Array<PublishResult | null> = items.map(() => null);
    for (let offset = 0; offset < items.length; offset += batchSize) {
      const end = Math.min(items.length, offset + batchSize);
      const batch = items.slice(offset, end).map((item, position) => ({ item, index: offset + position }));
      const { failures, error } = await publishBatch(batch, results);
      if (failures.length > 0) {
        // Stop at the first batch that cannot be published; say what was never tried.
        const notAttempted = items
          .slice(end)
          .map((item, position) => failureOf(item, end + position, "not attempted: an earlier batch failed"));
        throw new QueuePublishError([...failures, ...notAttempted], results, {
          misconfigured: isAuthFailure(error),
          ...(error === null ? {} : { cause: error }),
        });
      }
    }
    return results as PublishResult[];
  }

  async function verifyDelivery(request: Request): Promise<{ body: string; messageId: string | null; retried: number }> {
    // Read the raw body first and once: the signature covers these exact bytes.
    const body = await request.text();
    const signature = request.headers.get("upstash-signature");
    if (!signature) throw new AppError("unauthorized", "Missing Upstash-Signature header.");
    const { pathname } = new URL(request.url);
    // The URL QStash signed is the one we published to, under our configured public
    // base; the Host header is the caller's to choose and proves nothing. Task
    // destinations never carry a query string, and the one a function sees is not
    // the caller's either: Vercel appends `[param]` segments to it (`?type=plan`).
    const url = `${baseUrl}${pathname}`;
    try {
      await receiver.verify({ signature, body, url, clockTolerance: CLOCK_TOLERANCE_S });
    } catch (error) {
      // Every verify failure means the same to the caller: not from our QStash. The
      // Receiver also throws plain TypeErrors for malformed tokens, hence no narrowing.
      log.warn("rejected a task delivery with an invalid signature", {
        path: pathname,
        reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
      throw new AppError("unauthorized", "Invalid Upstash-Signature.", { cause: error });
    }
    const retried = Number.parseInt(request.headers.get("upstash-retried") ?? "0", 10);
    return {
      body,
      messageId: request.headers.get("upstash-message-id"),
      retried: Number.isFinite(retried) && retried >= 0 ? retried : 0,
    };
  }

  /** Reachability only: any HTTP answer from the queue's API host means it is up. */
  async function ping(): Promise<void> {
    const response = await fetch(settings.url, { method: "GET", signal: AbortSignal.timeout(2000) });
    await response.body?.cancel();
  }

  return { publish, publishMany, verifyDelivery, ping };
}

/** Parses and validates a delivered body as a task message (400 naming the bad fields). */
export function parseTaskMessage(body: string): TaskMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    if (error instanceof SyntaxError) throw new AppError("invalid_json", `The task body is not JSON: ${error.message}`);
    throw error;
  }
  const parsed = TaskMessageSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const fields = parsed.error.issues.map((issue) => ({
    field: issue.path.map(String).join(".") || "(root)",
    location: "body" as const,
    message: issue.message,
  }));
  throw new AppError("validation_failed", "The task body is not a task message.", { fields });
}

function toFlowControl(flow: FlowControl): SdkFlowControl {
  const { key, parallelism, rate, period } = flow;
  if (parallelism !== undefined) return { key, parallelism, rate, period };
  if (rate !== undefined) return { key, rate, period };
  throw new Error(`flow control for key "${key}" needs parallelism or rate`);
}

function resultOf(response: unknown): PublishResult | string {
  if (typeof response === "object" && response !== null) {
    const entry = response as { messageId?: unknown; deduplicated?: unknown; error?: unknown };
    if (typeof entry.messageId === "string" && entry.messageId !== "") {
      return { messageId: entry.messageId, deduplicated: entry.deduplicated === true };
    }
    if (typeof entry.error === "string") return entry.error;
  }
  return `unexpected answer from QStash: ${JSON.stringify(response)?.slice(0, 200)}`;
}

function failureOf(item: TaskPublication, index: number, reason: string): PublishFailure {
  return { index, type: item.task.type, deduplicationId: item.options?.deduplicationId ?? null, reason };
}

/** 5xx, 429 and answers that never came are worth another try; other 4xx are not. */
function isRetryable(error: unknown): boolean {
  if (error instanceof QstashError) return error.status === undefined || error.status >= 500 || error.status === 429;
  return true;
}

function isAuthFailure(error: unknown): boolean {
  return error instanceof QstashError && (error.status === 401 || error.status === 403);
}

function describe(error: unknown): string {
  if (error instanceof QstashError) return `QStash answered ${error.status ?? "an error"}: ${error.message.slice(0, 300)}`;
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
