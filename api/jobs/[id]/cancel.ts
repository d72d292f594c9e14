import { json, route } from "../../../lib/http/index.js";
import { JobIdParams } from "../../../lib/jobs/index.js";

export const POST = route(
  { operation: "cancelJob", auth: "api", query: JobIdParams },
  async ({ query, runtime }) => {
    const engine = await runtime.engine();
    return json(await engine.view(await engine.cancel(query.id)));
  },
);
