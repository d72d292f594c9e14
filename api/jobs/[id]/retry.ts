import { json, route } from "../../../lib/http/index.js";
import { JobIdParams, type JobRetried } from "../../../lib/jobs/index.js";

/** Re-runs the chunks that failed as a whole; rows rejected for bad data stay rejected. */
export const POST = route(
  { operation: "retryJob", auth: "api", query: JobIdParams },
  async ({ query, runtime }) => {
    const engine = await runtime.engine();
    const chunks = await engine.retry(query.id);
    return json({ retried_chunks: chunks, job: await engine.view(await engine.requireJob(query.id)) } satisfies JobRetried, { status: 202 });
  },
);
