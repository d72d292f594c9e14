import { z } from "zod";

/**
 * Errors that cross module boundaries carry a stable `code` (part of the public API
 * once it reaches an HTTP response) and the HTTP status it maps to.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  validation_failed: 400,
  invalid_json: 400,
  /** One import names the same content (SHA-256) twice. */
  duplicate_content: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  /** A reconcile run would read stores an import is still writing to. */
  import_running: 409,
  /** A sync of this source and account is still running. */
  sync_running: 409,
  /** The sync source (or account) is not configured on this deployment. */
  source_not_configured: 404,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  misconfigured: 500,
  service_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

/**
 * What each code means to a caller: the problem codes of docs/api.md's catalogue and of
 * the OpenAPI document (lib/openapi). A code added above without its meaning here does
 * not compile.
 */
export const ERROR_MEANINGS: Record<ErrorCode, string> = {
  bad_request: "The request cannot be read as sent (a malformed multipart body).",
  validation_failed: "A query parameter or body field is invalid: `fields` names each one (`location` query or body, `field` dotted as in `files.0.name`).",
  invalid_json: "The body is empty or not valid JSON.",
  duplicate_content: "One import names the same content (SHA-256) twice; the message names both files.",
  unauthorized: "Missing or invalid credentials (bearer token, Upstash-Signature or Blob callback signature), whatever the reason.",
  forbidden: "Reserved: no route answers it today (a wrong token is a 401).",
  not_found: "No such import, job, reconcile run, sync run or invoice (an id of another kind's job is not found either).",
  method_not_allowed: "The route does not take this HTTP method.",
  conflict: "The resource is not in a state for this: a finished job cancelled, nothing failed to retry, a running import's files deleted, an Idempotency-Key reused for another request or still being answered.",
  import_running: "A reconcile run would read stores an import is still writing to; `job_id` names the import, `retry-after` says when to ask again.",
  sync_running: "A sync of this source and account is still running; `job_id` names it.",
  source_not_configured: "The sync source, or the account named, is not configured on this deployment.",
  payload_too_large: "The request body is over its limit (4 MiB of files in a multipart import).",
  unsupported_media_type: "The body's content type is not one the route reads (JSON; for POST /api/imports also multipart/form-data).",
  rate_limited: "Reserved: no route answers it today.",
  internal: "An unexpected error; the message shows no internals and asks you to quote the correlation id.",
  misconfigured: "The deployment's configuration is invalid or incomplete (the variables are named in its logs, never in the answer).",
  service_unavailable: "The queue or object storage did not answer in time, or an uploaded object is not visible yet; try again.",
};

/** A field-level problem in a request: `field` is dotted (`files.0.name`), `location` says where. */
export const FieldProblemSchema = z.object({
  field: z.string(),
  location: z.enum(["query", "body", "headers"]),
  message: z.string(),
});
export type FieldProblem = z.infer<typeof FieldProblemSchema>;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly options: {
      fields?: FieldProblem[];
      cause?: unknown;
      headers?: Record<string, string>;
      /** More members of the error object, for the client to act on (e.g. the `job_id` in the way). */
      extra?: Record<string, string | number>;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AppError";
    this.status = ERROR_STATUS[code];
  }

  get fields(): FieldProblem[] {
    return this.options.fields ?? [];
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;
