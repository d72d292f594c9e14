import type { AppError, ErrorCode, FieldProblem } from "../errors.js";

export interface Problem {
  error: {
    code: ErrorCode;
    message: string;
    fields: FieldProblem[];
    correlation_id: string;
    [extra: string]: unknown;
  };
}

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
