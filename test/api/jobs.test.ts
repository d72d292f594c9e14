/**
 * The jobs HTTP API end to end: the dev server in process (api/ mounted the way
 * Vercel does, the embedded QStash stand-in delivering signed messages to
 * api/tasks) on a fresh real Postgres, called over HTTP with fetch. Every route has
 * one way in, bad input is a 400 naming the field, listing pages by keyset, and
 * cancel / retry answer what the job's state allows.
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { z } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../../dev/server.js";
import { queryRows } from "../../lib/db/client.js";
import { defineJobKind, PermanentChunkError, uuidv7 } from "../../lib/jobs/index.js";
import { configureLogging } from "../../lib/log/index.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { describePostgres } from "../support/databases.js";
import { TERMINAL } from "../support/job-status.js";

const API_TOKEN = "jobs-api-test-token-0123456789";
const CRON_SECRET = "jobs-api-cron-secret-0123456789";

interface Progress {
  percent: number | null;
  total_known: boolean;
  rows: { total: number; done: number; failed: number };
  chunks: { total: number; done: number; failed: number; cancelled: number; running: number };
  rate_per_s: number | null;
  eta_s: number | null;
  stalled_for_s: number | null;
}
interface JobView {
  id: string;
  kind: string;
  status: string;
  params: Record<string, unknown>;
  counters: Record<string, number>;
  last_error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  heartbeat_at: string | null;
  progress: Progress;
}
interface Problem {
  error: { code: string; message: string; fields: Array<{ field: string; location: string; message: string }> };
}
interface JobList {
  jobs: JobView[];
  next_cursor: string | null;
}

// Kinds only this suite uses (added to its own server's catalogue): one POST /api/jobs
// must refuse, and one whose jobs finish (or fail) at planning, so listing sees exactly
// the jobs it made.
const ProbeParams = z.object({ fail: z.boolean().default(false) });
const suiteKinds = [
  defineJobKind({
    kind: "internal-only",
    params: z.object({}),
    payload: z.object({}),
    plan: () => Promise.resolve([]),
    processChunk: () => Promise.reject(new Error("never runs")),
  }),
  defineJobKind({
    kind: "list-probe",
    creatableViaApi: true,
    params: ProbeParams,
    payload: z.object({}),
    plan: ({ params }) =>
      params.fail ? Promise.reject(new PermanentChunkError("list-probe told to fail")) : Promise.resolve([]),
    processChunk: () => Promise.reject(new Error("never runs")),
  }),
];

describePostgres("jobs API", () => {
  let app: AppServer;
  let server: DevServer;
  let base: string;

  beforeAll(async () => {
    app = await startAppServer(
      API_TOKEN,
      {
        CRON_SECRET,
        DROPFLOW_TEST_JOB_KINDS: "1",
        DROPFLOW_MAX_DURATION_S: "2",
        DROPFLOW_DEADLINE_MARGIN_S: "0.2",
        DROPFLOW_LEASE_S: "2.5",
        DROPFLOW_STALL_S: "1",
      },
      { queueTimeScale: 0.0002 },
    );
    server = app.server;
    server.runtime.jobKinds.add(...suiteKinds);
    configureLogging({ level: "warn", format: "json", stdout: false });
    base = app.base;
  });

  afterAll(async () => {
    await app?.close();
  });

  const db = async () => (await server.runtime.database()).db;

  async function call(
    method: "GET" | "POST",
    route: string,
    options: { token?: string | null; body?: unknown; authorization?: string } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    const token = options.token === undefined ? API_TOKEN : options.token;
    if (options.authorization !== undefined) headers.authorization = options.authorization;
    else if (token !== null) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    return fetch(`${base}${route}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  }

  async function create(kind: string, params: Record<string, unknown>): Promise<JobView> {
    const response = await call("POST", "/api/jobs", { body: { kind, params } });
    expect(response.status).toBe(202);
    return (await response.json()) as JobView;
  }

  async function getJob(id: string): Promise<JobView> {
    const response = await call("GET", `/api/jobs/${id}`);
    expect(response.status).toBe(200);
    return (await response.json()) as JobView;
  }

  /** Polls GET /api/jobs/:id until `done(view)`, keeping every view seen. */
  async function pollJob(id: string, done: (view: JobView) => boolean, ms = 30_000): Promise<JobView[]> {
    const until = Date.now() + ms;
    const seen: JobView[] = [];
    for (;;) {
      const view = await getJob(id);
      seen.push(view);
      if (done(view)) return seen;
      if (Date.now() > until) throw new Error(`job ${id} still ${view.status} after ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  const untilTerminal = async (id: string) => (await pollJob(id, (view) => TERMINAL.includes(view.status))).at(-1) as JobView;

  async function listAll(query: string): Promise<{ pages: JobList[]; ids: string[] }> {
    const pages: JobList[] = [];
    let cursor: string | null = null;
    do {
      const response = await call("GET", `/api/jobs?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as JobList;
      pages.push(page);
      cursor = page.next_cursor;
      if (pages.length > 50) throw new Error("pagination does not end");
    } while (cursor !== null);
    return { pages, ids: pages.flatMap((page) => page.jobs.map((job) => job.id)) };
  }

  async function jobCount(): Promise<number> {
    const [row] = await queryRows<{ n: number }>(await db(), sql`select count(*)::int as n from jobs`);
    return row?.n ?? 0;
  }

  let nextOffset = 0;
  const offsetFor = (rows: number) => {
    const offset = nextOffset;
    nextOffset += rows + 1000;
    return offset;
  };

  describe("authentication", () => {
    const someId = randomUUID();
    const routes: Array<[string, "GET" | "POST", string, unknown]> = [
      ["GET /api/jobs", "GET", "/api/jobs", undefined],
      ["POST /api/jobs", "POST", "/api/jobs", { kind: "noop", params: { chunks: 1 } }],
      ["GET /api/jobs/:id", "GET", `/api/jobs/${someId}`, undefined],
      ["POST /api/jobs/:id/cancel", "POST", `/api/jobs/${someId}/cancel`, undefined],
      ["POST /api/jobs/:id/retry", "POST", `/api/jobs/${someId}/retry`, undefined],
    ];
    const credentials: Array<[string, string | undefined]> = [
      ["no token", undefined],
      ["a wrong token", "Bearer wrong-token-0123456789abcdef"],
      ["the token with its last character changed", `Bearer ${API_TOKEN.slice(0, -1)}X`],
      ["the cron secret", `Bearer ${CRON_SECRET}`],
    ];

    it.each(routes)("%s answers 401 without a valid API token, and does nothing", async (_name, method, route, body) => {
      const before = await jobCount();
      for (const [, authorization] of credentials) {
        const response =
          authorization === undefined
            ? await call(method, route, { token: null, body })
            : await call(method, route, { authorization, body });
        expect(response.status, `${method} ${route} with ${authorization ?? "no token"}`).toBe(401);
        expect(response.headers.get("www-authenticate")).toContain("Bearer");
        const problem = (await response.json()) as Problem & { jobs?: unknown };
        expect(problem.error.code).toBe("unauthorized");
        expect(problem.jobs).toBeUndefined();
      }
      expect(await jobCount()).toBe(before);
    });

    it("GET /api/cron/watchdog answers 401 without or with a wrong cron secret, 200 with the report for Bearer $CRON_SECRET", async () => {
      for (const authorization of [
        undefined,
        "Bearer wrong-cron-secret-0123456789",
        `Bearer ${CRON_SECRET}x`,
        `Bearer ${API_TOKEN}`,
        CRON_SECRET,
      ]) {
        const response =
          authorization === undefined
            ? await call("GET", "/api/cron/watchdog", { token: null })
            : await call("GET", "/api/cron/watchdog", { authorization });
        expect(response.status, `with ${authorization ?? "no authorization"}`).toBe(401);
        expect(((await response.json()) as Problem).error.code).toBe("unauthorized");
      }
      const response = await call("GET", "/api/cron/watchdog", { authorization: `Bearer ${CRON_SECRET}` });
      expect(response.status).toBe(200);
      const report = (await response.json()) as Record<string, unknown>;
      expect(Object.keys(report).sort()).toEqual(
        [
          "chunks_failed",
          "chunks_republished",
          "jobs_checked",
          "jobs_failed",
          "jobs_finalised",
          "steps_published",
          "plans_republished",
          "states_restored",
        ].sort(),
      );
      for (const value of Object.values(report)) expect(Number.isInteger(value)).toBe(true);
    });
  });

  describe("POST /api/jobs", () => {
    it("creates a test-rows job: 202, Location, the job's view", async () => {
      const response = await call("POST", "/api/jobs", {
        body: { kind: "test-rows", params: { chunks: 3, rows_per_chunk: 2, offset: offsetFor(6) } },
      });
      expect(response.status).toBe(202);
      const view = (await response.json()) as JobView;
      expect(response.headers.get("location")).toBe(`/api/jobs/${view.id}`);
      expect(view).toMatchObject({
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        kind: "test-rows",
        status: "queued",
        last_error: null,
        finished_at: null,
      });
      // The stored params are the validated ones, defaults filled in.
      expect(view.params).toMatchObject({ chunks: 3, rows_per_chunk: 2, fail_chunks: [], slow_ms: 0, version: 1 });
      expect(Number.isNaN(Date.parse(view.created_at))).toBe(false);
      const done = await untilTerminal(view.id);
      expect(done.status).toBe("completed");
      expect(done.counters).toMatchObject({ rows_done: 6, rows_inserted: 6 });
    });

    it("creates a noop job", async () => {
      const response = await call("POST", "/api/jobs", { body: { kind: "noop", params: { chunks: 4 } } });
      expect(response.status).toBe(202);
      const view = (await response.json()) as JobView;
      expect(response.headers.get("location")).toBe(`/api/jobs/${view.id}`);
      expect(view.kind).toBe("noop");
      const done = await untilTerminal(view.id);
      expect(done).toMatchObject({ status: "completed", counters: { chunks_done: 4, rows_done: 4 } });
    });

    it.each([
      ["an unknown kind", { kind: "no-such-kind", params: {} }, "kind"],
      ["a kind that has its own route", { kind: "internal-only", params: {} }, "kind"],
      ["no kind", { params: { chunks: 1 } }, "kind"],
      ["an empty kind", { kind: "", params: {} }, "kind"],
      ["params that are not an object", { kind: "noop", params: [1, 2] }, "params"],
      ["a negative chunk count", { kind: "test-rows", params: { chunks: -1 } }, "chunks"],
      ["a chunk count that is not a number", { kind: "test-rows", params: { chunks: "many" } }, "chunks"],
      ["a missing chunk count", { kind: "noop", params: {} }, "chunks"],
      ["a bad rows_per_chunk", { kind: "test-rows", params: { chunks: 1, rows_per_chunk: 0 } }, "rows_per_chunk"],
    ])("refuses %s with a 400 naming the field, and creates nothing", async (_case, body, field) => {
      const before = await jobCount();
      const response = await call("POST", "/api/jobs", { body });
      expect(response.status).toBe(400);
      expect(response.headers.get("location")).toBeNull();
      const problem = (await response.json()) as Problem;
      expect(problem.error.code).toBe("validation_failed");
      expect(problem.error.fields).toContainEqual(expect.objectContaining({ field, location: "body" }));
      expect(JSON.stringify(problem)).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
      expect(await jobCount()).toBe(before);
    });

    it("refuses a body that is not JSON", async () => {
      const response = await fetch(`${base}/api/jobs`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_TOKEN}`, "content-type": "application/json" },
        body: "{not json",
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as Problem).error.code).toBe("invalid_json");
    });
  });

  describe("GET /api/jobs/:id", () => {
    it("returns the job with its progress, which only grows and ends at 100 with a rate and an ETA of 0", async () => {
      const created = await create("test-rows", { chunks: 10, rows_per_chunk: 10, slow_ms: 60, offset: offsetFor(100) });
      const seen = await pollJob(created.id, (view) => TERMINAL.includes(view.status));
      const done = seen.at(-1) as JobView;

      expect(Object.keys(done).sort()).toEqual(
        [
          "counters",
          "created_at",
          "finished_at",
          "heartbeat_at",
          "id",
          "kind",
          "last_error",
          "params",
          "progress",
          "started_at",
          "status",
        ].sort(),
      );
      expect(done).toMatchObject({
        id: created.id,
        kind: "test-rows",
        status: "completed",
        last_error: null,
        params: expect.objectContaining({ chunks: 10, rows_per_chunk: 10, slow_ms: 60 }),
        counters: expect.objectContaining({ rows_done: 100, rows_failed: 0, chunks_done: 10, chunks_failed: 0, rows_inserted: 100 }),
      });
      for (const field of ["created_at", "started_at", "finished_at", "heartbeat_at"] as const) {
        expect(Number.isNaN(Date.parse(done[field] ?? "")), field).toBe(false);
      }
      expect(Date.parse(done.started_at ?? "")).toBeGreaterThanOrEqual(Date.parse(done.created_at));
      expect(Date.parse(done.finished_at ?? "")).toBeGreaterThanOrEqual(Date.parse(done.started_at ?? ""));
      expect(done.progress).toEqual({
        percent: 100,
        total_known: true,
        rows: { total: 100, done: 100, failed: 0 },
        chunks: { total: 10, done: 10, failed: 0, cancelled: 0, running: 0 },
        rate_per_s: expect.any(Number),
        eta_s: 0,
        stalled_for_s: null,
      });
      expect(done.progress.rate_per_s).toBeGreaterThan(0);

      // While it ran: every view is consistent, and progress never went backwards.
      let previous = -1;
      for (const view of seen) {
        const { rows, chunks } = view.progress;
        const percent = view.progress.percent ?? -1;
        expect(view.progress.total_known).toBe(true);
        expect(percent).toBeGreaterThanOrEqual(previous);
        expect(percent).toBeGreaterThanOrEqual(0);
        expect(percent).toBeLessThanOrEqual(100);
        expect(rows.done + rows.failed).toBeLessThanOrEqual(rows.total);
        expect(chunks.done + chunks.failed + chunks.running).toBeLessThanOrEqual(chunks.total);
        if (view.status === "running") expect(view.finished_at).toBeNull();
        previous = percent;
      }
    });

    it("answers 404 for an unknown id and 400 naming `id` for one that is not a uuid", async () => {
      const missing = await call("GET", `/api/jobs/${uuidv7()}`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as Problem).error.code).toBe("not_found");

      const bad = await call("GET", "/api/jobs/not-a-uuid");
      expect(bad.status).toBe(400);
      const problem = (await bad.json()) as Problem;
      expect(problem.error.code).toBe("validation_failed");
      expect(problem.error.fields).toContainEqual(expect.objectContaining({ field: "id", location: "query" }));
    });
  });

  describe("GET /api/jobs", () => {
    let created: JobView[] = [];
    const failing = new Set([1, 4]);

    beforeAll(async () => {
      created = [];
      for (let n = 0; n < 7; n++) created.push(await create("list-probe", { fail: failing.has(n) }));
      for (const job of created) await untilTerminal(job.id);
    });

    it("pages through one kind with limit + next_cursor: every job once, newest first, then null", async () => {
      const { pages, ids } = await listAll("kind=list-probe&limit=3");
      expect(pages.map((page) => page.jobs.length)).toEqual([3, 3, 1]);
      expect(pages.map((page) => page.next_cursor === null)).toEqual([false, false, true]);
      expect(ids).toEqual(created.map((job) => job.id).reverse());
      expect(new Set(ids).size).toBe(ids.length);
      const times = pages.flatMap((page) => page.jobs.map((job) => Date.parse(job.created_at)));
      expect([...times].sort((a, b) => b - a)).toEqual(times);

      // A limit that divides the count exactly still ends with next_cursor null (after a short page or at once).
      const exact = await listAll("kind=list-probe&limit=7");
      expect(exact.ids).toEqual(ids);
      expect(exact.pages.at(-1)?.next_cursor).toBeNull();
    });

    it("filters by kind and by status", async () => {
      const failed = await listAll("kind=list-probe&status=failed&limit=50");
      expect(failed.ids).toEqual(created.filter((_, n) => failing.has(n)).map((job) => job.id).reverse());
      expect(failed.pages[0]?.jobs.every((job) => job.status === "failed" && job.last_error === "list-probe told to fail")).toBe(true);

      const completed = await listAll("kind=list-probe&status=completed&limit=2");
      expect(completed.ids).toEqual(created.filter((_, n) => !failing.has(n)).map((job) => job.id).reverse());

      const anyKindFailed = await listAll("status=failed");
      expect(anyKindFailed.ids).toEqual(expect.arrayContaining(failed.ids));
      expect(anyKindFailed.pages.flatMap((page) => page.jobs).every((job) => job.status === "failed")).toBe(true);

      const noop = await listAll("kind=noop");
      expect(noop.ids.length).toBeGreaterThan(0);
      expect(noop.pages.flatMap((page) => page.jobs).every((job) => job.kind === "noop")).toBe(true);

      const none = await call("GET", "/api/jobs?kind=no-such-kind");
      expect(await none.json()).toEqual({ jobs: [], next_cursor: null });
    });

    it("pages exactly when several jobs were created within the same millisecond", async () => {
      // Postgres keeps microseconds; a cursor that kept only milliseconds would skip
      // the jobs of the same millisecond that sort after the page's last one.
      const ids: string[] = [];
      for (let n = 0; n < 5; n++) ids.push(uuidv7());
      const stamps = [".123900", ".123700", ".123500", ".123300", ".122000"].map((us) => `2020-01-01 00:00:00${us}+00`);
      const handle = await db();
      for (const [n, id] of ids.entries()) {
        await handle.execute(sql`
          insert into jobs (id, kind, status, created_at, started_at, finished_at)
          values (${id}, 'same-ms-probe', 'completed', ${stamps[n]}::timestamptz, ${stamps[n]}::timestamptz, ${stamps[n]}::timestamptz)`);
      }
      for (const limit of [1, 2, 3]) {
        const { ids: listed } = await listAll(`kind=same-ms-probe&limit=${limit}`);
        expect(listed, `limit ${limit}`).toEqual(ids);
      }
    });

    it("refuses a forged cursor and bad filters with a 400 naming the parameter", async () => {
      const iso = new Date().toISOString();
      const forged = [
        "not-a-cursor",
        Buffer.from("garbage").toString("base64url"),
        Buffer.from(`${iso}|not-a-uuid`).toString("base64url"),
        Buffer.from(`yesterday|${randomUUID()}`).toString("base64url"),
        Buffer.from(`2020-01-01 00:00:00|${randomUUID()}`).toString("base64url"),
        Buffer.from(`0000-01-01T00:00:00Z|${randomUUID()}`).toString("base64url"),
        Buffer.from(`2020-13-01T00:00:00Z|${randomUUID()}`).toString("base64url"),
        Buffer.from(`2020-02-30T00:00:00Z|${randomUUID()}`).toString("base64url"),
        Buffer.from(`2020-01-01T00:00:00Z';--|${randomUUID()}`).toString("base64url"),
        "x".repeat(300),
      ];
      for (const cursor of forged) {
        const response = await call("GET", `/api/jobs?cursor=${encodeURIComponent(cursor)}`);
        expect(response.status, cursor).toBe(400);
        const problem = (await response.json()) as Problem;
        expect(problem.error.code).toBe("validation_failed");
        expect(problem.error.fields).toContainEqual(expect.objectContaining({ field: "cursor", location: "query" }));
      }
      for (const [query, field] of [
        ["status=exploded", "status"],
        ["limit=0", "limit"],
        ["limit=201", "limit"],
        ["limit=three", "limit"],
      ] as const) {
        const response = await call("GET", `/api/jobs?${query}`);
        expect(response.status, query).toBe(400);
        expect(((await response.json()) as Problem).error.fields).toContainEqual(
          expect.objectContaining({ field, location: "query" }),
        );
      }
    });
  });

  describe("POST /api/jobs/:id/cancel", () => {
    it("cancels a running job (200, cancelled), again idempotently, and refuses a finished job with 409", async () => {
      const job = await create("test-rows", { chunks: 40, rows_per_chunk: 1, slow_ms: 200, offset: offsetFor(40) });
      await pollJob(job.id, (view) => view.status === "running");

      const first = await call("POST", `/api/jobs/${job.id}/cancel`);
      expect(first.status).toBe(200);
      const cancelled = (await first.json()) as JobView;
      expect(cancelled).toMatchObject({ id: job.id, status: "cancelled", last_error: "cancelled on request" });
      expect(cancelled.finished_at).not.toBeNull();

      const again = await call("POST", `/api/jobs/${job.id}/cancel`);
      expect(again.status).toBe(200);
      expect(((await again.json()) as JobView).status).toBe("cancelled");
      expect((await getJob(job.id)).status).toBe("cancelled");
      // Nothing can restart it, and the refusal says why.
      const retry = await call("POST", `/api/jobs/${job.id}/retry`);
      expect(retry.status).toBe(409);
      expect(((await retry.json()) as Problem).error.message).toMatch(/cancelled job is not retried/);

      const finished = await create("noop", { chunks: 1 });
      await untilTerminal(finished.id);
      const refused = await call("POST", `/api/jobs/${finished.id}/cancel`);
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as Problem).error.code).toBe("conflict");
      expect((await getJob(finished.id)).status).toBe("completed");
    });

    it("answers 404 for an unknown job and 400 for a non-uuid id", async () => {
      expect((await call("POST", `/api/jobs/${uuidv7()}/cancel`)).status).toBe(404);
      expect((await call("POST", "/api/jobs/123/cancel")).status).toBe(400);
    });
  });

  describe("POST /api/jobs/:id/retry", () => {
    it("re-runs a chunk the queue gave up on (202, retried_chunks 1) and the job then completes; a completed job is 409", async () => {
      // Chunk 1 fails its first 4 deliveries: the first and the queue's 3 retries; then the failure callback.
      const job = await create("test-rows", {
        chunks: 3,
        rows_per_chunk: 2,
        flaky_chunks: [1],
        flaky_attempts: 4,
        offset: offsetFor(6),
      });
      const failed = await untilTerminal(job.id);
      expect(failed.status).toBe("completed_with_errors");
      expect(failed.last_error).toMatch(/^chunk 1: the queue gave up after 4 attempt\(s\)/);
      expect(failed.progress).toMatchObject({ percent: 100, chunks: { total: 3, done: 2, failed: 1 } });

      const response = await call("POST", `/api/jobs/${job.id}/retry`);
      expect(response.status).toBe(202);
      const retried = (await response.json()) as { retried_chunks: number; job: JobView };
      expect(retried.retried_chunks).toBe(1);
      expect(retried.job).toMatchObject({ id: job.id, finished_at: null });
      expect(["running", "completed"]).toContain(retried.job.status);

      const done = await untilTerminal(job.id);
      expect(done.status).toBe("completed");
      expect(done.last_error).toBeNull();
      expect(done.counters).toMatchObject({
        chunks_done: 3,
        chunks_failed: 0,
        rows_done: 6,
        rows_failed: 0,
        rows_inserted: 6,
        rows_updated: 0,
        rows_unchanged: 0,
      });
      expect(done.progress).toMatchObject({ percent: 100, eta_s: 0, chunks: { total: 3, done: 3, failed: 0 } });

      const again = await call("POST", `/api/jobs/${job.id}/retry`);
      expect(again.status).toBe(409);
      expect(((await again.json()) as Problem).error.code).toBe("conflict");
    });

    it("answers 404 for an unknown job", async () => {
      const response = await call("POST", `/api/jobs/${uuidv7()}/retry`);
      expect(response.status).toBe(404);
    });
  });
});
