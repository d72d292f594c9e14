import { json, route } from "../../lib/http/index.js";
import { logger } from "../../lib/log/index.js";
import { FailureCallback, type TaskAnswer, TaskMessageSchema } from "../../lib/queue/types.js";

const log = logger("tasks");

/** The queue gave up on a message after its last retry: fail what it carried. */
export const POST = route(
  { operation: "taskFailed", auth: "queue", body: FailureCallback },
  async ({ body, runtime }) => {
    const source = TaskMessageSchema.safeParse(
      JSON.parse(Buffer.from(body.sourceBody, "base64").toString("utf8")) as unknown,
    );
    if (!source.success) {
      log.error("failure callback for a message that is not a task", { message_id: body.sourceMessageId });
      return json({ outcome: "ignored" } satisfies TaskAnswer);
    }
    const engine = await runtime.engine();
    await engine.handleDeliveryFailure(source.data, { status: body.status, retried: body.retried });
    return json({ outcome: "recorded" } satisfies TaskAnswer);
  },
);
