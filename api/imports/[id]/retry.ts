import { json, route } from "../../../lib/http/index.js";
import { type ImportRetried, requireImport } from "../../../lib/imports/status.js";
import { JobIdParams } from "../../../lib/jobs/index.js";

/** Re-runs the import's chunks that failed as a whole. */
export const POST = route(
  { operation: "retryImport", auth: "api", query: JobIdParams },
  async ({ query, runtime }) => {
    const engine = await runtime.engine();
    await requireImport(engine, query.id);
    const chunks = await engine.retry(query.id);
    return json({ retried_chunks: chunks, status_url: `/api/imports/${query.id}` } satisfies ImportRetried, { status: 202 });
  },
);
