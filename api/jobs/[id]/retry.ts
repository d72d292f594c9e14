import { z } from "zod";
import { json, route } from "../../../lib/http/index.js";

/** Re-runs the chunks that failed as a whole; rows rejected for bad data stay rejected. */
export const POST = route(
  { operation: "retryJob", auth: "api", query: z.object({ id: z.string().uuid() }) },
  async ({ query, runtime }) => {
    const engine = await runtime.engine();
    const chunks = await engine.retry(query.id);
    return json({ retried_chunks: chunks, job: await engine.view(await engine.requireJob(query.id)) }, { status: 202 });
  },
);
