/**
 * Checks one real answer against the OpenAPI document: its status is documented for the
 * operation, its content type is one the document names for that status, and its body
 * parses with the very zod schema the document was built from (the registry's), with
 * nothing the schema does not name. A problem is the one JSON problem shape, with a code
 * the document lists for that status and no stack trace. Records what was checked, so a
 * suite can tell which documented answers it never saw.
 */
import { expect } from "vitest";
import { ProblemSchema } from "../../../lib/http/respond.js";
import type { oas31 } from "zod-openapi";
import type { ApiOperation, MediaType } from "../../../lib/openapi/operation.js";
import { API_OPERATIONS } from "../../../lib/openapi/registry.js";

export interface Checked {
  response: Response;
  /** The parsed JSON body, or the text of any other. */
  body: unknown;
}

type DocumentedResponse = { content?: Record<string, unknown>; "x-error-codes"?: string[] };

export class Conformance {
  /** operationId -> the statuses seen and checked. */
  readonly seen = new Map<string, Set<number>>();

  constructor(private readonly document: oas31.OpenAPIObject) {}

  operation(operationId: string): ApiOperation {
    const operation = API_OPERATIONS.find((candidate) => candidate.operationId === operationId);
    if (!operation) throw new Error(`no operation ${operationId} in the registry`);
    return operation;
  }

  documented(operation: ApiOperation): Record<string, DocumentedResponse> {
    const item = this.document.paths?.[operation.path] as Record<string, { responses: Record<string, DocumentedResponse> }> | undefined;
    return item?.[operation.method]?.responses ?? {};
  }

  /** Checks `response`, an answer of `operationId` expected to have `status`. */
  async check(operationId: string, response: Response, status: number): Promise<Checked> {
    const operation = this.operation(operationId);
    const name = `${operation.method.toUpperCase()} ${operation.path} (${operationId}) answered ${response.status}`;
    const text = await response.text();
    expect(response.status, `${name}: ${text.slice(0, 500)}`).toBe(status);
    const documented = this.documented(operation)[String(status)];
    expect(documented, `${name}: the status is documented`).toBeDefined();
    const type = (response.headers.get("content-type") ?? "").toLowerCase();
    let body: unknown = text;

    if (operation.method === "head") {
      expect(text, name).toBe("");
    } else if (status < 400) {
      const content = operation.answers[status]?.content ?? {};
      const mediaType = (Object.keys(content) as MediaType[]).find((candidate) => type.startsWith(candidate));
      expect(mediaType, `${name}: content type ${type} is one of ${Object.keys(content).join(", ")}`).toBeDefined();
      const schema = content[mediaType as MediaType];
      if (mediaType === "application/json") body = JSON.parse(text) as unknown;
      const parsed = schema?.safeParse(body);
      expect(parsed?.success, `${name}: ${JSON.stringify(parsed?.error?.issues ?? null).slice(0, 1500)}`).toBe(true);
      // Stripped members are members the document does not name.
      expect(parsed?.data, `${name}: the body has only documented members`).toEqual(body);
    } else {
      expect(type, name).toMatch(/^application\/json/);
      body = JSON.parse(text) as unknown;
      const parsed = ProblemSchema.safeParse(body);
      expect(parsed.success, `${name}: a JSON problem: ${text.slice(0, 500)}`).toBe(true);
      expect(documented?.["x-error-codes"], `${name}: its code is documented for ${status}`).toContain(parsed.data?.error.code);
      expect(text, `${name}: no stack trace`).not.toMatch(/\n\s+at |\.ts:\d+|node_modules/);
    }
    const statuses = this.seen.get(operationId) ?? new Set<number>();
    statuses.add(status);
    this.seen.set(operationId, statuses);
    return { response, body };
  }
}
