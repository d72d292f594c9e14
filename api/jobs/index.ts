import { AppError } from "../../lib/errors.js";
import { json, route } from "../../lib/http/index.js";
import { CreateJobRequest, type JobList, JobListByKindQuery, listJobPage } from "../../lib/jobs/index.js";

export const GET = route({ operation: "listJobs", auth: "api", query: JobListByKindQuery }, async ({ query, runtime }) => {
  const engine = await runtime.engine();
  const { db } = await runtime.database();
  const { page, nextCursor } = await listJobPage(db, query.kind, query);
  return json({ jobs: await Promise.all(page.map((job) => engine.view(job))), next_cursor: nextCursor } satisfies JobList);
});

/**
 * Creates a job of a kind that allows it (the test and benchmark kinds); imports,
 * reconcile runs and syncs have their own routes that validate their input.
 */
export const POST = route(
  { operation: "createJob", auth: "api", body: CreateJobRequest },
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
