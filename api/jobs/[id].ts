import { json, route } from "../../lib/http/index.js";
import { JobIdParams } from "../../lib/jobs/index.js";

export const GET = route(
  { operation: "getJob", auth: "api", query: JobIdParams },
  async ({ query, runtime }) => {
    const engine = await runtime.engine();
    return json(await engine.view(await engine.requireJob(query.id)));
  },
);
