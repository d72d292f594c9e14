/**
 * The OpenAPI 3.1 document of the API (GET /api/openapi.json), built by zod-openapi from
 * the registry's entries: the routes' own zod schemas become its parameters, bodies and
 * answers, so the document cannot say something the routes do not. Problems are
 * added by rule (every route's 500, 401 where it takes credentials, 400/415 where it
 * takes input) and from each entry's `problems`, grouped by their ERROR_STATUS.
 */
import { z } from "zod";
import {
  createDocument,
  type oas31,
  type ZodOpenApiOperationObject,
  type ZodOpenApiParameters,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponsesObject,
} from "zod-openapi";
import { ERROR_MEANINGS, ERROR_STATUS, type ErrorCode } from "../errors.js";
import { IDEMPOTENCY_HEADER, IdempotencyKey } from "../http/idempotency.js";
import { ProblemSchema } from "../http/respond.js";
import { VERSION } from "../version.js";
import type { Answer, ApiOperation } from "./operation.js";
import { API_OPERATIONS, API_TAGS } from "./registry.js";
import { AUTH_SCHEMES, SECURITY_SCHEMES } from "./security.js";

const DESCRIPTION =
  "dropflow imports supplier and marketplace CSV exports, reconciles purchases against settlements and syncs the catalogue " +
  "from eMAG and SAP Business One. Every route takes `x-correlation-id` (or `x-request-id`), or makes one, and echoes it as " +
  "`x-correlation-id`. Every error is one JSON problem, `{ error: { code, message, fields, correlation_id } }`: the codes are " +
  "listed in the repository's docs/api.md. Long work answers 202 with where to follow it.";

/** The codes a route answers besides its entry's `problems`: by rule, from what route() does for it. */
export function ruleProblems(operation: ApiOperation): ErrorCode[] {
  const codes: ErrorCode[] = ["internal", "misconfigured"];
  if (operation.auth !== "public" || operation.callers) codes.push("unauthorized");
  if (operation.query || operation.body || operation.idempotent) codes.push("validation_failed");
  if (operation.body) {
    codes.push("invalid_json");
    // A queue delivery is parsed from the verified bytes whatever its content type says.
    if (operation.auth !== "queue") codes.push("unsupported_media_type");
  }
  return codes;
}

/** Every problem code the route may answer, by status. */
export function problemsByStatus(operation: ApiOperation): Map<number, ErrorCode[]> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set([...ruleProblems(operation), ...(operation.problems ?? [])])) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return byStatus;
}

/** The path's `{name}` segments, in order. */
export function pathParameters(path: string): string[] {
  return [...path.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((match) => match[1] as string);
}

/** route()'s query schema split as Vercel fills it: the path's segments, and the query string proper. */
function requestParams(operation: ApiOperation): ZodOpenApiParameters {
  const names = pathParameters(operation.path);
  const params: ZodOpenApiParameters = {};
  const query = operation.query;
  if (names.length > 0) {
    const missing = names.filter((name) => !(query && name in query.shape));
    if (missing.length > 0 || !query) {
      throw new Error(`${operation.operationId}: the path segment(s) ${missing.join(", ")} are not in its query schema`);
    }
    const mask = Object.fromEntries(names.map((name) => [name, true])) as Record<string, true> & Record<number, never>;
    params.path = query.pick(mask);
    if (Object.keys(query.shape).length > names.length) params.query = query.omit(mask);
  } else if (query) {
    params.query = query;
  }
  if (operation.idempotent) params.header = z.object({ [IDEMPOTENCY_HEADER]: IdempotencyKey.optional() });
  return params;
}

function response(answer: Answer) {
  return {
    description: answer.description,
    ...(answer.content
      ? { content: Object.fromEntries(Object.entries(answer.content).map(([type, schema]) => [type, { schema }])) }
      : {}),
    ...(answer.headers
      ? {
          headers: Object.fromEntries(
            Object.entries(answer.headers).map(([name, description]) => [name, { description, schema: { type: "string" as const } }]),
          ),
        }
      : {}),
  };
}

function responses(operation: ApiOperation): ZodOpenApiResponsesObject {
  const out: ZodOpenApiResponsesObject = {};
  for (const [status, answer] of Object.entries(operation.answers)) out[status as `2${string}`] = response(answer);
  for (const [status, codes] of [...problemsByStatus(operation)].sort(([a], [b]) => a - b)) {
    out[String(status) as `4${string}`] = {
      description: codes.map((code) => `\`${code}\`: ${ERROR_MEANINGS[code]}`).join("\n\n"),
      // HEAD answers the same status without the body.
      ...(operation.method === "head" ? {} : { content: { "application/json": { schema: ProblemSchema } } }),
      "x-error-codes": codes,
    } as ZodOpenApiResponsesObject[`4${string}`];
  }
  return out;
}

function operationObject(operation: ApiOperation): ZodOpenApiOperationObject {
  const schemes = operation.callers ?? AUTH_SCHEMES[operation.auth];
  const body = operation.body;
  return {
    operationId: operation.operationId,
    tags: [operation.tag],
    summary: operation.summary,
    ...(operation.description ? { description: operation.description } : {}),
    // Alternatives: any one of the schemes lets the caller in; none: public.
    security: schemes.map((scheme) => ({ [scheme]: [] })),
    requestParams: requestParams(operation),
    ...(body
      ? {
          requestBody: {
            required: true,
            content: Object.fromEntries(Object.entries(body).map(([type, schema]) => [type, { schema }])),
          },
        }
      : {}),
    responses: responses(operation),
  };
}

export function buildOpenApiDocument(operations: readonly ApiOperation[] = API_OPERATIONS): oas31.OpenAPIObject {
  const paths: ZodOpenApiPathsObject = {};
  for (const operation of operations) {
    const item = (paths[operation.path] ??= {});
    if (item[operation.method]) throw new Error(`${operation.method.toUpperCase()} ${operation.path} is in the registry twice`);
    item[operation.method] = operationObject(operation);
  }
  return createDocument({
    openapi: "3.1.1",
    info: { title: "dropflow API", version: VERSION, description: DESCRIPTION },
    tags: [...API_TAGS],
    paths,
    components: { securitySchemes: SECURITY_SCHEMES },
  });
}

let built: oas31.OpenAPIObject | undefined;

/** The document, built once per process (a function instance serves it many times). */
export function openApiDocument(): oas31.OpenAPIObject {
  built ??= buildOpenApiDocument();
  return built;
}
