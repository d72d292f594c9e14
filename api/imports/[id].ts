import { z } from "zod";
import { AppError } from "../../lib/errors.js";
import { json, route } from "../../lib/http/index.js";
import { IMPORT_KIND } from "../../lib/imports/kind.js";
import { importStatus } from "../../lib/imports/status.js";

export const GET = route(
  { operation: "getImport", auth: "api", query: z.object({ id: z.string().uuid() }) },
  async ({ query, runtime }) => {
    const engine = await runtime.engine();
    const job = await engine.requireJob(query.id);
    if (job.kind !== IMPORT_KIND) throw new AppError("not_found", `No import ${query.id}.`);
    const { db } = await runtime.database();
    return json(await importStatus(db, await engine.view(job)));
  },
);
