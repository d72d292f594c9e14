import { json, route } from "../../lib/http/index.js";
import { createImport } from "../../lib/imports/create.js";
import { IMPORT_KIND } from "../../lib/imports/job-params.js";
import { readImportRequest } from "../../lib/imports/request.js";
import type { ImportList } from "../../lib/imports/status.js";
import { JobListQuery, listJobPage } from "../../lib/jobs/index.js";

/**
 * Creates an import from files in object storage (JSON) or sent in the request
 * (multipart/form-data, 4 MiB in all); honours Idempotency-Key. The route has no body
 * schema because it takes two forms: lib/imports/request.ts reads either.
 */
export const POST = route({ operation: "createImport", auth: "api" }, async ({ request, runtime, correlationId }) =>
  createImport(runtime, request, await readImportRequest(request), correlationId),
);

export const GET = route({ operation: "listImports", auth: "api", query: JobListQuery }, async ({ query, runtime }) => {
  const { db } = await runtime.database();
  const engine = await runtime.engine();
  const { page, nextCursor } = await listJobPage(db, IMPORT_KIND, query);
  return json({ imports: await Promise.all(page.map((job) => engine.view(job))), next_cursor: nextCursor } satisfies ImportList);
});
