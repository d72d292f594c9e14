import { z } from "zod";
import { type AppError, ERROR_CODES, FieldProblemSchema } from "../errors.js";

/** The one error body of every route (docs/api.md lists the codes). */
export const ProblemSchema = z
  .object({
    error: z.looseObject({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      fields: z.array(FieldProblemSchema),
      correlation_id: z.string(),
      /** `import_running`, `sync_running`: the job in the way (AppError's `extra`). */
      job_id: z.string().optional(),
    }),
  })
  .meta({ id: "Problem", description: "The JSON problem every route answers an error with." });
export type Problem = z.infer<typeof ProblemSchema>;

export function json(data: unknown, init: { status?: number; headers?: Record<string, string> } = {}): Response {
  return new Response(JSON.stringify(data), {
    status: init.status ?? 200,
    headers: { "content-type": "application/json; charset=utf-8", ...init.headers },
  });
}

/** The one error body of every route: `{ error: { code, message, fields, correlation_id } }`. */
export function problem(error: AppError, correlationId: string): Response {
  const body: Problem = {
    error: {
      ...error.options.extra,
      code: error.code,
      message: error.message,
      fields: error.fields,
      correlation_id: correlationId,
    },
  };
  return json(body, { status: error.status, headers: { "cache-control": "no-store", ...error.options.headers } });
}
