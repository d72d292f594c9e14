import { z } from "zod";
import { json, route } from "../../lib/http/index.js";
import { TASK_TYPES } from "../../lib/jobs/index.js";
import { logger } from "../../lib/log/index.js";
import { recordMetrics } from "../../lib/metrics/record.js";
import type { Runtime } from "../../lib/runtime.js";
import { type TaskAnswer, TaskMessageSchema, TaskRouteParams } from "../../lib/queue/types.js";
import { runWebhookTask, WEBHOOK_TASK, WebhookTaskPayload } from "../../lib/webhooks/task.js";

const ChunkPayload = z.object({ job_id: z.string().uuid(), chunk: z.number().int().min(0) });
/** A plan or a job-wide step task: the job it is for. */
const PlanPayload = z.object({ job_id: z.string().uuid() });
const log = logger("tasks");

/**
 * Every queue delivery lands here (signature required). A transient failure throws,
 * answering 500 so the queue retries with backoff; anything a retry cannot fix
 * answers 200 with what happened.
 */
export const POST = route(
  { operation: "runTask", auth: "queue", query: TaskRouteParams, body: TaskMessageSchema },
  async ({ query, body, delivery, runtime }) => {
    if (body.type !== query.type) {
      log.error("task type does not match its route", { route_type: query.type, message_type: body.type });
      return json({ outcome: "ignored", reason: "type mismatch" } satisfies TaskAnswer);
    }
    try {
      const answer = await runTask(body, delivery, runtime);
      recordMetrics(runtime.metrics(), [{ metric: "deliveries", labels: { task: taskLabel(body.type), outcome: answer.outcome }, value: 1 }]);
      return json(answer);
    } catch (error) {
      // A transient failure: the queue delivers it again.
      recordMetrics(runtime.metrics(), [{ metric: "deliveries", labels: { task: taskLabel(body.type), outcome: "retried" }, value: 1 }]);
      throw error;
    }
  },
);

/** Bounded label values: the known task types, everything else "other". */
function taskLabel(type: string): string {
  return ([...Object.values(TASK_TYPES), WEBHOOK_TASK] as string[]).includes(type) ? type : "other";
}

async function runTask(
  body: { type: string; payload: unknown },
  delivery: { messageId: string | null; retried: number } | null,
  runtime: Runtime,
): Promise<TaskAnswer> {
    const engine = await runtime.engine();
    switch (body.type) {
      case TASK_TYPES.plan: {
        const { job_id } = PlanPayload.parse(body.payload);
        return { outcome: await engine.handlePlan(job_id) };
      }
      case TASK_TYPES.step: {
        const { job_id } = PlanPayload.parse(body.payload);
        return { outcome: await engine.handleStep(job_id) };
      }
      case TASK_TYPES.chunk: {
        const { job_id, chunk } = ChunkPayload.parse(body.payload);
        return { outcome: await engine.handleChunk(job_id, chunk, delivery ?? { messageId: null, retried: 0 }) };
      }
      case WEBHOOK_TASK: {
        const { db } = await runtime.database();
        const outcome = await runWebhookTask(
          { events: runtime.webhookEvents, db, engine, secret: runtime.webhookSecret(), production: runtime.config.production, log },
          WebhookTaskPayload.parse(body.payload),
          delivery ?? { retried: 0 },
        );
        return { outcome };
      }
      default:
        log.error("no handler for task type", { type: body.type });
        return { outcome: "ignored", reason: `unknown task type ${body.type}` };
    }
}
