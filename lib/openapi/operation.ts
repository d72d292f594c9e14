/**
 * What the API reference says of one route: the shape every entry of the registry
 * (registry.ts) has. The schemas are the route's own (the `query` and `body` route() was
 * given, the response schemas its builder is typed by), never a copy; document.ts turns
 * them into OpenAPI 3.1, and test/api/openapi.test.ts checks them against the routes.
 */
import type { z } from "zod";
import type { ErrorCode } from "../errors.js";
import type { RouteAuth } from "../http/auth.js";

export type HttpMethod = "get" | "head" | "post" | "delete";

/** The security schemes of the document (security.ts): one per way in. */
export type SecuritySchemeName = "apiBearer" | "cronBearer" | "metricsBearer" | "qstashSignature" | "blobCallback";

/** One answer of a route: its body per media type (a JSON schema, or text), and the headers it sets. */
export interface Answer {
  description: string;
  /** Media type -> the body's schema: for JSON the schema the route's builder is typed by. */
  content?: Partial<Record<MediaType, z.ZodType>>;
  /** Header name -> what it holds. */
  headers?: Record<string, string>;
}

export type MediaType = "application/json" | "multipart/form-data" | "text/csv" | "text/plain";

export interface ApiOperation {
  /** route()'s `operation` (the name in logs and metrics). */
  operationId: string;
  method: HttpMethod;
  /** OpenAPI's form of the file's path: `api/imports/[id].ts` is `/api/imports/{id}`. */
  path: string;
  /** route()'s `auth`. */
  auth: RouteAuth;
  /**
   * Who may call a `public` route that checks its callers itself (POST /api/uploads: the
   * API bearer for a token, Blob's signature for the callback); by default the schemes of `auth`.
   */
  callers?: readonly SecuritySchemeName[];
  tag: string;
  summary: string;
  description?: string;
  /** route()'s `query`: Vercel passes the path's `{param}` segments in it, the document splits them off. */
  query?: z.ZodObject;
  /** The request body by media type: route()'s `body`, or the schemas a route that reads its body itself parses with. */
  body?: Partial<Record<MediaType, z.ZodType>>;
  /** Honours `Idempotency-Key` (lib/http/idempotency.ts). */
  idempotent?: boolean;
  /** The answers that are not problems, by status. */
  answers: Record<number, Answer>;
  /**
   * The problem codes the route answers besides those every route of its kind may
   * (document.ts: 401 for a route with credentials, 400/415 for input, 500); the
   * status of each is its ERROR_STATUS.
   */
  problems?: readonly ErrorCode[];
}
