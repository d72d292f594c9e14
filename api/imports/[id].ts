import { json, route } from "../../lib/http/index.js";
import { JobIdParams } from "../../lib/jobs/index.js";
import { importStatus, requireImport } from "../../lib/imports/status.js";

export const GET = route(
  { operation: "getImport", auth: "api", query: JobIdParams },
  async ({ query, runtime }) => {
    const engine = await runtime.engine();
    const job = await requireImport(engine, query.id);
    const { db } = await runtime.database();
    return json(await importStatus(db, await engine.view(job)));
  },
);
