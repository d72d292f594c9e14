import { z } from "zod";
import { json, route } from "../../lib/http/index.js";

export const GET = route(
  { operation: "getJob", auth: "api", query: z.object({ id: z.string().uuid() }) },
  async ({ query, runtime }) => {
    const engine = await runtime.engine();
    return json(await engine.view(await engine.requireJob(query.id)));
  },
);
