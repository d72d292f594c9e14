/**
 * The OpenAPI document itself, without a server: valid OpenAPI 3.1 in shape (every $ref
 * resolves, every operation named and answered), every file and method under api/ in
 * it with the very auth and schemas its route() was given, and docs/api.md's error-code
 * catalogue the one the code renders. What the routes answer is routes.test.ts's.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { discoverRoutes, HTTP_METHODS } from "../../../dev/router.js";
import type { RouteHandler } from "../../../lib/http/index.js";
import { buildOpenApiDocument } from "../../../lib/openapi/document.js";
import { renderErrorCatalogue } from "../../../lib/openapi/error-catalogue.js";
import type { HttpMethod } from "../../../lib/openapi/operation.js";
import { API_OPERATIONS, findOperation } from "../../../lib/openapi/registry.js";
import { AUTH_SCHEMES } from "../../../lib/openapi/security.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const document = buildOpenApiDocument();

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Operation {
  operationId?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ in: string; name: string; required?: boolean }>;
  responses?: Record<string, unknown>;
}

/** Every operation of the document, with its method and path. */
function operations(): Array<{ method: string; path: string; operation: Operation }> {
  return Object.entries(document.paths ?? {}).flatMap(([route, item]) =>
    Object.entries(item as Record<string, Operation>).map(([method, operation]) => ({ method, path: route, operation })),
  );
}

/** `api/imports/[id]/errors.ts` as the document names it: `/api/imports/{id}/errors`. */
const documentPath = (routePath: string) => routePath.replace(/\[([A-Za-z_][A-Za-z0-9_]*)\]/g, "{$1}");

describe("the OpenAPI document", () => {
  it("is OpenAPI 3.1 with this version's info", () => {
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    expect(document.info).toMatchObject({ title: "dropflow API", version: expect.any(String) });
    expect(JSON.parse(JSON.stringify(document))).toEqual(document);
  });

  it("resolves every $ref within itself", () => {
    const refs: string[] = [];
    const walk = (value: Json) => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value !== null && typeof value === "object") {
        for (const [key, inner] of Object.entries(value)) {
          if (key === "$ref" && typeof inner === "string") refs.push(inner);
          else walk(inner);
        }
      }
    };
    walk(document as unknown as Json);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of new Set(refs)) {
      expect(ref, ref).toMatch(/^#\//);
      const target = ref
        .slice(2)
        .split("/")
        .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
        .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], document);
      expect(target, `${ref} resolves`).toBeTypeOf("object");
    }
  });

  it("names and answers every operation, declares its path segments, and uses only declared security schemes", () => {
    const ids = new Set<string>();
    const schemes = Object.keys(document.components?.securitySchemes ?? {});
    expect(schemes.sort()).toEqual(["apiBearer", "blobCallback", "cronBearer", "metricsBearer", "qstashSignature"]);
    for (const { method, path: route, operation } of operations()) {
      const name = `${method.toUpperCase()} ${route}`;
      expect(operation.operationId, name).toMatch(/^[a-zA-Z]+$/);
      expect(ids.has(operation.operationId as string), `${name}: operationId used twice`).toBe(false);
      ids.add(operation.operationId as string);
      expect(Object.keys(operation.responses ?? {}).length, name).toBeGreaterThan(0);
      expect(Object.keys(operation.responses ?? {}).some((status) => /^2\d\d$/.test(status)), `${name} has a success answer`).toBe(true);
      expect(operation.tags?.length, name).toBe(1);
      for (const requirement of operation.security ?? []) {
        for (const scheme of Object.keys(requirement)) expect(schemes, name).toContain(scheme);
      }
      const segments = [...route.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
      const pathParameters = (operation.parameters ?? []).filter((parameter) => parameter.in === "path");
      expect(pathParameters.map((parameter) => parameter.name), name).toEqual(segments);
      expect(pathParameters.every((parameter) => parameter.required === true), name).toBe(true);
    }
  });

  it("tags every route with its way in: none for the public ones, the upload route's two", () => {
    const security = (method: string, route: string) =>
      ((document.paths?.[route] as Record<string, Operation> | undefined)?.[method]?.security ?? []).map((entry) => Object.keys(entry)[0]);
    expect(security("get", "/api/health")).toEqual([]);
    expect(security("get", "/api/openapi.json")).toEqual([]);
    expect(security("post", "/api/uploads")).toEqual(["apiBearer", "blobCallback"]);
    expect(security("get", "/api/metrics")).toEqual(["metricsBearer"]);
    expect(security("get", "/api/cron/watchdog")).toEqual(["cronBearer"]);
    expect(security("post", "/api/tasks/{type}")).toEqual(["qstashSignature"]);
    for (const operation of API_OPERATIONS) {
      expect(security(operation.method, operation.path), operation.operationId).toEqual([...(operation.callers ?? AUTH_SCHEMES[operation.auth])]);
    }
  });
});

describe("every route under api/", () => {
  const routes = discoverRoutes(path.join(ROOT, "api"));

  it("is in the document, each method it exports, and nothing else is", async () => {
    expect(routes.length).toBeGreaterThan(25);
    const served = new Set<string>();
    for (const route of routes) {
      const module = (await import(pathToFileURL(route.file).href)) as Record<string, unknown>;
      const methods = HTTP_METHODS.filter((method) => typeof module[method] === "function");
      expect(methods.length, route.file).toBeGreaterThan(0);
      for (const method of methods) {
        const name = `${method} ${documentPath(route.path)} (${path.relative(ROOT, route.file)})`;
        served.add(`${method.toLowerCase()} ${documentPath(route.path)}`);
        expect(findOperation(method.toLowerCase() as HttpMethod, documentPath(route.path)), `${name} is in lib/openapi's registry`).toBeDefined();
        expect((document.paths?.[documentPath(route.path)] as Record<string, unknown> | undefined)?.[method.toLowerCase()], `${name} is in the document`).toBeDefined();
      }
    }
    const documented = operations().map(({ method, path: route }) => `${method} ${route}`);
    expect(documented.filter((operation) => !served.has(operation)), "documented but served by no file").toEqual([]);
  });

  it("is documented with the operation, auth and schemas its route() was given", async () => {
    let checked = 0;
    for (const route of routes) {
      const module = (await import(pathToFileURL(route.file).href)) as Record<string, RouteHandler | undefined>;
      for (const method of HTTP_METHODS) {
        const spec = module[method]?.spec;
        if (!spec) continue; // HEAD /api/health wraps GET: no route() of its own
        const entry = findOperation(method.toLowerCase() as HttpMethod, documentPath(route.path));
        const name = `${method} ${route.path}`;
        expect(entry?.operationId, name).toBe(spec.operation);
        expect(entry?.auth, name).toBe(spec.auth);
        // The same schema objects, not look-alikes: the document cannot drift from what the route parses.
        expect(entry?.query === spec.query, `${name}: the registry's query schema is route()'s`).toBe(true);
        if (spec.body) expect(entry?.body?.["application/json"] === spec.body, `${name}: the registry's body schema is route()'s`).toBe(true);
        checked += 1;
      }
    }
    expect(checked).toBe(API_OPERATIONS.length - 1);
  });
});

describe("docs/api.md", () => {
  it("holds the error-code catalogue the code renders (regenerate: npx tsx scripts/openapi.ts --docs)", () => {
    const docs = readFileSync(path.join(ROOT, "docs", "api.md"), "utf8");
    expect(docs).toContain(renderErrorCatalogue());
  });
});
