import { z } from "zod";
import { json, route } from "../../../lib/http/index.js";

export const POST = route(
  { operation: "cancelJob", auth: "api", query: z.object({ id: z.string().uuid() }) },
  async ({ query, runtime }) => {
    const engine = await runtime.engine();
    return json(await engine.view(await engine.cancel(query.id)));
  },
);
