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

/** A field-level problem in a request: `field` is dotted (`files.0.name`), `location` says where. */
export interface FieldProblem {
  field: string;
  location: "query" | "body" | "headers";
  message: string;
}

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
