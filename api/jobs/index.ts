import { z } from "zod";
import { AppError } from "../../lib/errors.js";
import { json, route } from "../../lib/http/index.js";
import { JobListQuery, listJobPage } from "../../lib/jobs/index.js";

const Query = JobListQuery.extend({ kind: z.string().min(1).max(50).optional() });

export const GET = route({ operation: "listJobs", auth: "api", query: Query }, async ({ query, runtime }) => {
  const engine = await runtime.engine();
  const { db } = await runtime.database();
  const { page, nextCursor } = await listJobPage(db, query.kind, query);
  return json({ jobs: await Promise.all(page.map((job) => engine.view(job))), next_cursor: nextCursor });
});

const CreateBody = z.object({ kind: z.string().min(1).max(50), params: z.record(z.string(), z.unknown()).default({}) });

/**
 * Creates a job of a kind that allows it (the test and benchmark kinds); imports,
 * reconcile runs and syncs have their own routes that validate their input.
 */
export const POST = route(
  { operation: "createJob", auth: "api", body: CreateBody },
  async ({ body, runtime, correlationId }) => {
    if (!runtime.jobKinds.get(body.kind)?.creatableViaApi) {
      throw new AppError("validation_failed", `Jobs of kind "${body.kind}" cannot be created here.`, {
        fields: [{ field: "kind", location: "body", message: "not a kind this route creates" }],
      });
    }
    const engine = await runtime.engine();
    const job = await engine.createJob(body.kind, body.params, correlationId);
    return json(await engine.view(job), { status: 202, headers: { location: `/api/jobs/${job.id}` } });
  },
);
