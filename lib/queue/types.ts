/**
 * Task messages between the job engine and the functions that do the work. A
 * message carries ids and byte ranges, never rows (QStash caps a message at 1 MB
 * on its free plan). Delivery is at least once: handlers must be idempotent.
 */
import { z } from "zod";

/** The body of every task delivery, as published and as received. */
export const TaskMessageSchema = z.object({
  /** What the task is (plan, chunk, step, webhook): also its route, /api/tasks/<type>. */
  type: z.string().regex(/^[a-z][a-z0-9-]*$/),
  payload: z.unknown(),
  correlation_id: z.string().min(1).max(128),
});
export type TaskMessage = z.infer<typeof TaskMessageSchema>;

/** The `[type]` of POST /api/tasks/<type>: the task type the message was published to. */
export const TaskRouteParams = z.object({ type: z.string() });

/** QStash's failure callback body (the fields dropflow uses), after a message's last retry. */
export const FailureCallback = z.object({
  status: z.number().int(),
  retried: z.number().int().min(0).default(0),
  sourceBody: z.string().describe("The failed message's body, base64."),
  sourceMessageId: z.string().optional(),
});

/**
 * What a queue route answers when a retry could not help (200): what the task came to
 * (e.g. planned, completed, already_done; the failure callback recorded or ignored),
 * and why, when it was ignored.
 */
export const TaskAnswerSchema = z.object({ outcome: z.string(), reason: z.string().optional() });
export type TaskAnswer = z.infer<typeof TaskAnswerSchema>;

export interface FlowControl {
  /** Limits are counted per key (e.g. per job or per upstream account). */
  key: string;
  /** At most this many deliveries of the key in flight. */
  parallelism?: number;
  /** At most `rate` deliveries per `period` seconds. */
  rate?: number;
  period?: number;
}

export interface PublishOptions {
  delaySeconds?: number;
  /** The same id twice is accepted once (dedup is an optimisation; handlers stay idempotent). */
  deduplicationId?: string;
  /** Delivery retries after the first attempt. */
  retries?: number;
  /** After the last retry, deliver the failure callback to `/api/tasks/failure`. */
  failureCallback?: boolean;
  flowControl?: FlowControl;
  /** Seconds the destination may take before the attempt counts as failed. */
  timeoutSeconds?: number;
}

export interface PublishResult {
  messageId: string;
  deduplicated: boolean;
}

export interface TaskPublication {
  task: TaskMessage;
  options?: PublishOptions;
}

/** The queue port as the job engine uses it (lib/queue/index.ts builds it on QStash). */
export interface TaskQueue {
  publish(task: TaskMessage, options?: PublishOptions): Promise<PublishResult>;
  /** Publishes in batches and checks every result; throws naming the messages that failed. */
  publishMany(items: TaskPublication[]): Promise<PublishResult[]>;
  /** Verifies a delivery's signature over its raw body; throws AppError("unauthorized") otherwise. */
  verifyDelivery(request: Request): Promise<{ body: string; messageId: string | null; retried: number }>;
  /** Resolves when the queue's API answers at all (health check). */
  ping(): Promise<void>;
}
