/**
 * The wrapper every api/ route is built with: correlation id, one request log line,
 * authentication, zod parsing of query and body, and errors turned into the JSON
 * problem of respond.ts. Handlers receive typed, validated input and return a Response.
 */
import type { z } from "zod";
import { AppError } from "../errors.js";
import { correlationIdFrom, type Logger, logger, runWithContext } from "../log/index.js";
import { waitUntil } from "@vercel/functions";
import { recordMetrics } from "../metrics/record.js";
import { getRuntime, type Runtime } from "../runtime.js";
import { authenticate, type RouteAuth } from "./auth.js";
import { problem } from "./respond.js";
import { parseInput } from "../validate.js";

export interface RouteSpec<Query extends z.ZodType, Body extends z.ZodType> {
  /** Names the operation in logs, e.g. "listStores". */
  operation: string;
  auth: RouteAuth;
  /** Query-string schema; Vercel also passes `[param]` path segments as query values. */
  query?: Query;
  /** JSON body schema; requires `content-type: application/json`. */
  body?: Body;
}

export interface RouteContext<Query, Body> {
  request: Request;
  /** For `queue` routes: the verified delivery's message id and retry count. */
  delivery: { messageId: string | null; retried: number } | null;
  url: URL;
  query: Query;
  body: Body;
  correlationId: string;
  log: Logger;
  runtime: Runtime;
}

/**
 * A route's handler. `spec` is what route() was given: the OpenAPI document's test
 * checks that the document names each route with this very auth and these very schemas.
 */
export type RouteHandler = ((request: Request) => Promise<Response>) & { readonly spec?: RouteSpec<z.ZodType, z.ZodType> };

const http = logger("http");

type Output<Schema> = Schema extends z.ZodType ? z.output<Schema> : undefined;

export function route<Query extends z.ZodType = z.ZodUndefined, Body extends z.ZodType = z.ZodUndefined>(
  spec: RouteSpec<Query, Body>,
  handler: (ctx: RouteContext<Output<Query>, Output<Body>>) => Promise<Response>,
): RouteHandler {
  const handle = (request: Request): Promise<Response> => {
    const correlationId = correlationIdFrom(request.headers);
    return runWithContext({ correlationId }, async () => {
      const url = new URL(request.url);
      const log = http.child({ operation: spec.operation });
      const startedAt = performance.now();
      let response: Response;
      let runtime: Runtime | undefined;
      try {
        runtime = getRuntime();
        authenticate(spec.auth, request, runtime);
        // A queue delivery is verified over its raw bytes before anything parses them.
        const verified = spec.auth === "queue" ? await runtime.taskQueue().verifyDelivery(request) : null;
        const query = spec.query ? parseInput(spec.query, queryObject(url), "query") : undefined;
        const input = verified ? parseJson(verified.body) : spec.body ? await readJsonBody(request) : undefined;
        const body = spec.body ? parseInput(spec.body, input, "body") : undefined;
        response = await handler({
          request,
          delivery: verified ? { messageId: verified.messageId, retried: verified.retried } : null,
          url,
          query: query as Output<Query>,
          body: body as Output<Body>,
          correlationId,
          log,
          runtime,
        });
      } catch (error) {
        response = errorResponse(error, correlationId, log);
      }
      const status = response.status;
      response = withBodyFailuresLogged(response, (error) =>
        runWithContext({ correlationId }, () =>
          log.error("response body failed after the headers were sent", {
            err: error,
            method: request.method,
            path: url.pathname,
            status,
          }),
        ),
      );
      response = withHeader(response, "x-correlation-id", correlationId);
      const fields = {
        method: request.method,
        path: url.pathname,
        status: response.status,
        duration_ms: Math.round((performance.now() - startedAt) * 10) / 10,
      };
      if (runtime) {
        // The records this request logged reach the log store even after the response.
        waitUntil(runtime.flushLogs());
        recordMetrics(runtime.metrics(), [
          { metric: "httpRequests", labels: { route: spec.operation, method: methodLabel(request.method), status: String(response.status) }, value: 1 },
          { metric: "httpDuration", labels: { route: spec.operation }, value: fields.duration_ms / 1000 },
        ]);
      }
      const line = `${request.method} ${url.pathname} ${response.status}`;
      if (response.status >= 500) log.error(line, fields);
      else log.info(line, fields);
      return response;
    });
  };
  return Object.assign(handle, { spec });
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** A bounded label: a made-up method must not grow the metric without end. */
function methodLabel(method: string): string {
  return METHODS.has(method) ? method : "OTHER";
}

function errorResponse(error: unknown, correlationId: string, log: Logger): Response {
  if (error instanceof AppError) {
    if (error.status >= 500) log.error(error.message, { err: error, code: error.code });
    return problem(error, correlationId);
  }
  if (error instanceof Error && error.name === "ConfigError") {
    // The variable names are useful to operators and not secret, but they belong in the log.
    log.error("configuration is invalid", { err: error });
    return problem(new AppError("misconfigured", "The server is misconfigured; see its logs."), correlationId);
  }
  log.error("unhandled error", { err: error });
  return problem(
    new AppError("internal", `Internal server error. Quote correlation id ${correlationId} when reporting it.`),
    correlationId,
  );
}

function queryObject(url: URL): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    out[key] = values.length === 1 ? (values[0] as string) : values;
  }
  return out;
}

/**
 * The request's JSON body, parsed but not validated: 415 unless the content type is
 * JSON (unless `anyContentType`: for senders we do not control), 400 when it is empty
 * or not JSON. For handlers that read the body themselves (a route with no `body`
 * schema leaves it unread).
 */
export async function readJsonBody(request: Request, options: { anyContentType?: boolean } = {}): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  if (!options.anyContentType && !/^application\/([a-z.+-]*\+)?json\b/i.test(type)) {
    throw new AppError("unsupported_media_type", "The body must be JSON (content-type: application/json).");
  }
  return parseJson(await request.text());
}

function parseJson(text: string): unknown {
  if (text.trim() === "") throw new AppError("invalid_json", "The body is empty; a JSON object is expected.");
  try {
    return JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new AppError("invalid_json", `The body is not valid JSON: ${error.message}`);
  }
}

/**
 * A streamed body (a CSV download) can fail after the status and headers went out, when
 * it can no longer become a problem response. The failure is logged here with the
 * request's correlation id (the stream may be read outside the request's async context) and
 * passed on, so the server cuts the connection and the client sees a failed download,
 * not a short file that looks whole.
 */
function withBodyFailuresLogged(response: Response, logFailure: (error: unknown) => void): Response {
  if (!response.body) return response;
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await reader.read().catch((error: unknown) => {
        logFailure(error);
        throw error;
      });
      if (chunk.done) controller.close();
      else controller.enqueue(chunk.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, response);
}

function withHeader(response: Response, name: string, value: string): Response {
  try {
    response.headers.set(name, value);
    return response;
  } catch {
    // Immutable headers (e.g. a Response passed through from fetch): copy it.
    const copy = new Response(response.body, response);
    copy.headers.set(name, value);
    return copy;
  }
}
