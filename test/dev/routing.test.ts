/**
 * The dev server routes api/ and public/ the way Vercel does; every route shares the
 * wrapper's correlation id, validation problems and error mapping.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDevApp } from "../../dev/app.js";
import { addLogSink, memorySink } from "../../lib/log/index.js";
import { API_TOKEN, installTestRuntime } from "../support/runtime.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/routes", import.meta.url));
const auth = { authorization: `Bearer ${API_TOKEN}` };

let server: Server;
let base: string;
let dispose: () => Promise<void>;
const logs = memorySink();

beforeAll(async () => {
  ({ dispose } = installTestRuntime());
  addLogSink(logs);
  const app = await createDevApp({ apiDir: path.join(FIXTURE, "api"), publicDir: path.join(FIXTURE, "public") });
  server = createServer((req, res) => void app.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await dispose();
});

const get = (p: string, init?: RequestInit) => fetch(`${base}${p}`, init);

describe("Vercel-style routing", () => {
  it("maps index files, static segments and [param] segments", async () => {
    expect(await (await get("/api/items")).json()).toEqual({ route: "index" });
    expect(await (await get("/api/items/")).json()).toEqual({ route: "index" });
    expect(await (await get("/api/items/42")).json()).toEqual({ route: "item", id: "42" });
    expect(await (await get("/api/items/a%20b/notes")).json()).toEqual({ route: "notes", id: "a b" });
  });

  it("gives a static segment precedence over a [param] one", async () => {
    expect(await (await get("/api/items/stats")).json()).toEqual({ route: "stats" });
  });

  it("answers 405 with Allow for a method the file does not export", async () => {
    const response = await get("/api/items/42", { method: "POST" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, DELETE");
    const body = (await response.json()) as { error: { code: string } };
    expect(body.error.code).toBe("method_not_allowed");
  });

  it("answers 404 for unknown paths and private (_) files", async () => {
    for (const p of ["/api/nope", "/api/_private", "/api/items/1/2/3"]) {
      const response = await get(p);
      expect(response.status, p).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("not_found");
    }
  });

  it("serves public/ first and never a file outside it", async () => {
    expect(await (await get("/")).text()).toContain("fixture");
    expect(await (await get("/hello.txt")).text()).toBe("hello\n");
    expect((await get("/docs")).status).toBe(200);
    expect((await get("/hello.txt")).headers.get("content-type")).toContain("text/plain");
    for (const p of ["/../api/echo.ts", "/%2e%2e/api/echo.ts", "/..%2f..%2fpackage.json"]) {
      expect((await get(p)).status, p).toBe(404);
    }
  });

  it("refuses bodies over Vercel's 4.5 MB limit with 413", async () => {
    const response = await get("/api/echo", {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: "x".repeat(5 * 1024 * 1024),
    });
    expect(response.status).toBe(413);
  });
});

describe("the route wrapper", () => {
  const post = (p: string, body: string, headers: Record<string, string> = {}) =>
    get(p, { method: "POST", headers: { ...auth, "content-type": "application/json", ...headers }, body });

  it("parses query and body with zod and passes typed values", async () => {
    const response = await post("/api/echo?limit=5", JSON.stringify({ name: "a", count: 2 }));
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ limit: 5, name: "a", count: 2 });
  });

  it("answers 400 with a problem naming the bad field", async () => {
    const response = await post("/api/echo", JSON.stringify({ name: "", count: 1.5 }));
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as {
      error: { code: string; message: string; fields: { field: string; location: string }[]; correlation_id: string };
    };
    expect(error.code).toBe("validation_failed");
    expect(error.fields.map((f) => `${f.location}.${f.field}`)).toEqual(["body.name", "body.count"]);
    expect(error.message).toContain("body.name");
    expect(error.correlation_id).toBe(response.headers.get("x-correlation-id"));

    const badQuery = await post("/api/echo?limit=abc", JSON.stringify({ name: "a", count: 1 }));
    expect(badQuery.status).toBe(400);
    expect(((await badQuery.json()) as { error: { fields: { field: string }[] } }).error.fields[0]?.field).toBe(
      "limit",
    );
  });

  it("answers 400 for malformed JSON and 415 for a body that is not JSON", async () => {
    const malformed = await post("/api/echo", "{nope");
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe("invalid_json");
    const text = await post("/api/echo", "name=a", { "content-type": "text/plain" });
    expect(text.status).toBe(415);
  });

  it("maps typed errors to their status", async () => {
    const response = await get("/api/boom", { method: "POST" });
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({
      error: { code: "conflict", message: "An import is already writing to this store." },
    });
  });

  it("answers 500 without internals, and logs them (redacted)", async () => {
    const response = await get("/api/boom", { headers: { "x-correlation-id": "boom-1" } });
    expect(response.status).toBe(500);
    const text = await response.text();
    for (const internal of ["postgres", "s3cr3t", "secret.ts", "stack", "10.1.2.3"]) {
      expect(text).not.toContain(internal);
    }
    expect(JSON.parse(text)).toMatchObject({ error: { code: "internal", correlation_id: "boom-1" } });
    const logged = logs.records.find((r) => r.correlation_id === "boom-1" && r.level === "error" && r.err);
    expect(JSON.stringify(logged)).toContain("postgres://admin:[redacted]@10.1.2.3/prod");
    expect(JSON.stringify(logs.records)).not.toContain("s3cr3t");
  });

  it("takes the correlation id from x-correlation-id or x-request-id, else makes one, and echoes it", async () => {
    expect((await get("/api/items", { headers: { "x-correlation-id": "abc" } })).headers.get("x-correlation-id")).toBe(
      "abc",
    );
    expect((await get("/api/items", { headers: { "x-request-id": "req-9" } })).headers.get("x-correlation-id")).toBe(
      "req-9",
    );
    const generated = (await get("/api/items", { headers: { "x-correlation-id": "bad id\twith spaces" } })).headers.get(
      "x-correlation-id",
    );
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("logs one request line with method, path, status and duration", async () => {
    await get("/api/items/stats", { headers: { "x-correlation-id": "line-1" } });
    const lines = logs.records.filter((r) => r.correlation_id === "line-1");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      service: "http",
      operation: "itemStats",
      method: "GET",
      path: "/api/items/stats",
      status: 200,
    });
    expect(typeof lines[0]?.duration_ms).toBe("number");
  });
});
