/**
 * The document against the real app (the dev server in process: real Postgres, the
 * embedded queue and Blob stand-ins, the eMAG and SAP simulators): every operation is
 * called with real data behind it (imports of generated exports, a reconcile run, sync
 * runs, jobs, signed queue deliveries, a signed Blob callback) and answers a documented
 * success status with a body its documented schema parses, and bad input with a
 * documented 400; every route outside the public ones refuses a caller without
 * credentials with a 401 JSON problem. The last test fails for any operation whose
 * success (or, where it documents one, bad-input) answer no test saw.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../../dev/generate/run.js";
import { signDelivery } from "../../../dev/qstash/signature.js";
import { emagAccountFor } from "../../../dev/sim/upstreams.js";
import { uuidv7 } from "../../../lib/jobs/index.js";
import { configureLogging } from "../../../lib/log/index.js";
import { buildOpenApiDocument } from "../../../lib/openapi/document.js";
import { API_OPERATIONS } from "../../../lib/openapi/registry.js";
import { newImportKey } from "../../../lib/storage/index.js";
import { type AppServer, startAppServer } from "../../support/app-server.js";
import { describePostgres } from "../../support/databases.js";
import { importGenerated, type LandedImport } from "../../support/generated-data.js";
import { isTerminal, waitForStatus } from "../../support/job-status.js";
import { purchasesCsv } from "../../support/purchases-csv.js";
import { SCALED_EMAG } from "../../sync/harness.js";
import { Conformance } from "./conformance.js";

const TOKEN = "openapi-test-token-0123456789";
const CRON_SECRET = "openapi-cron-secret-0123456789";
const METRICS_TOKEN = "openapi-metrics-token-0123456789";

type Credentials = "api" | "cron" | "metrics" | "none";
interface Ask {
  path: string;
  body?: unknown;
  /** Default: what the operation's auth takes. */
  credentials?: Credentials;
  headers?: Record<string, string>;
}

describePostgres("the OpenAPI document against the real app", () => {
  const document = buildOpenApiDocument();
  const conformance = new Conformance(document);
  let app: AppServer;
  let dir: string;
  let landed: LandedImport[];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "dropflow-openapi-"));
    app = await startAppServer(
      TOKEN,
      { CRON_SECRET, METRICS_TOKEN, DROPFLOW_TEST_JOB_KINDS: "1", DROPFLOW_CHUNK_ROWS: "100", DROPFLOW_RECONCILE_CHUNK: "100", LOG_LEVEL: "error" },
      // Nothing re-publishes behind a test's back while it holds the queue.
      { watchdog: false, simulators: { offers: 120, items: 120 }, dataDir: path.join(dir, "data") },
    );
    // The chunk this suite fails on purpose logs an error: the log store keeps it, stdout need not.
    configureLogging({ level: "warn", format: "json", stdout: false });
    const emag = app.server.simulators?.emag;
    if (!emag) throw new Error("the eMAG simulator did not start");
    // The simulator's and the account's pace scaled up, as the sync suites do: nothing waits in real time.
    emag.configure({ rateLimit: { other: SCALED_EMAG } });
    app.server.runtime.attachUpstreams({ emag: [emagAccountFor(emag.url, { ratePerSecond: SCALED_EMAG.perSecond, ratePerMinute: SCALED_EMAG.perMinute })] });
    const summary = await generate({ rows: 400, files: 2, seed: "openapi-1", badRate: 0.05, out: path.join(dir, "gen"), stores: 2, settlements: true, force: false });
    landed = await importGenerated(app, summary, path.join(dir, "gen"));
    expect(landed.map((one) => one.status).filter((status) => status === "failed")).toEqual([]);
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Calls `operationId` and checks its answer against the document; `status` is the one expected. */
  async function call(operationId: string, ask: Ask, status: number) {
    const operation = conformance.operation(operationId);
    const credentials = ask.credentials ?? ({ api: "api", cron: "cron", metrics: "metrics" } as const)[operation.auth as "api"] ?? "none";
    const secret = { api: TOKEN, cron: CRON_SECRET, metrics: METRICS_TOKEN, none: null }[credentials];
    const headers: Record<string, string> = { ...(secret ? { authorization: `Bearer ${secret}` } : {}) };
    let body: RequestInit["body"];
    if (ask.body instanceof FormData) body = ask.body;
    else if (typeof ask.body === "string") body = ask.body;
    else if (ask.body !== undefined) body = JSON.stringify(ask.body);
    if (typeof body === "string") headers["content-type"] = "application/json";
    const response = await fetch(`${app.base}${ask.path}`, {
      method: operation.method.toUpperCase(),
      headers: { ...headers, ...ask.headers },
      ...(body === undefined ? {} : { body }),
    });
    return conformance.check(operationId, response, status);
  }

  const json = async <T>(route: string): Promise<T> => (await (await app.api(route)).json()) as T;
  const untilEnded = <T extends { status: string }>(route: string, timeoutMs = 60_000) =>
    waitForStatus(() => json<T>(route), { timeoutMs, what: `${route} to end` });

  const signingKey = () => {
    const key = app.server.queue?.currentSigningKey;
    if (!key) throw new Error("the dev server embeds no queue");
    return key;
  };
  /** A delivery as QStash sends it: the body signed for this deployment's URL of the route. */
  const delivery = (route: string, body: string): Ask => ({
    path: route,
    body,
    headers: { "upstash-signature": signDelivery(signingKey(), `${app.base}${route}`, Buffer.from(body)) },
  });
  const task = (type: string, payload: unknown) => JSON.stringify({ type, payload, correlation_id: "openapi-test" });

  const storeCsv = async (name: string, text: string) => {
    const key = newImportKey(name);
    await app.server.runtime.objectStore().put(key, text, { contentType: "text/csv" });
    return key;
  };

  it("serves the document at GET /api/openapi.json without a token, cacheable", async () => {
    const { response, body } = await call("getOpenApiDocument", { path: "/api/openapi.json" }, 200);
    expect(response.headers.get("cache-control")).toMatch(/^public, max-age=\d+$/);
    expect(body).toEqual(JSON.parse(JSON.stringify(document)));
  });

  it("health, stores", async () => {
    await call("health", { path: "/api/health" }, 200);
    await call("healthHead", { path: "/api/health" }, 200);
    const { body } = await call("listStores", { path: "/api/stores" }, 200);
    expect((body as { stores: unknown[] }).stores).toHaveLength(2);
  });

  it("uploads: a client token, the signed upload-completed callback, the upload settings", async () => {
    const key = newImportKey("upload.csv");
    const tokenRequest = { type: "blob.generate-client-token", payload: { pathname: key, clientPayload: null, multipart: false } };
    await call("handleUpload", { path: "/api/uploads", body: tokenRequest, credentials: "api" }, 200);
    await call("handleUpload", { path: "/api/uploads", body: { type: "blob.generate-client-token", payload: { pathname: "elsewhere/a.csv" } }, credentials: "api" }, 400);

    await app.server.runtime.objectStore().put(key, purchasesCsv(3), { contentType: "text/csv" });
    const callback = JSON.stringify({ type: "blob.upload-completed", payload: { blob: { pathname: key }, tokenPayload: JSON.stringify({ name: "upload.csv" }) } });
    const signature = createHmac("sha256", app.server.blob?.token ?? "").update(callback).digest("hex");
    await call("handleUpload", { path: "/api/uploads", body: callback, headers: { "x-vercel-signature": signature } }, 200);
    await call("getUploadSettings", { path: "/api/uploads" }, 200);
  });

  it("imports: create (JSON and multipart), list, recommendations, status, row errors (JSON and CSV)", async () => {
    const key = await storeCsv("orders.csv", purchasesCsv(20, 9000));
    await call("createImport", { path: "/api/imports", body: { file_type: "purchases", files: [{ key, name: "orders.csv" }], dry_run: true } }, 202);
    const form = new FormData();
    form.set("file_type", "purchases");
    form.set("dry_run", "true");
    form.append("files", new Blob([purchasesCsv(10, 9500)], { type: "text/csv" }), "more.csv");
    const { body: created } = await call("createImport", { path: "/api/imports", body: form }, 202);
    await untilEnded(`/api/imports/${(created as { job_id: string }).job_id}`);
    await call("createImport", { path: "/api/imports", body: { file_type: "invoices", files: [] } }, 400);

    await call("listImports", { path: "/api/imports?limit=2" }, 200);
    await call("listImports", { path: "/api/imports?limit=0" }, 400);
    await call("recommendImport", { path: "/api/imports/recommendations?file_count=2&avg_file_size=40000" }, 200);
    await call("recommendImport", { path: "/api/imports/recommendations" }, 400);

    const purchases = landed[0]?.job_id as string;
    const { body: status } = await call("getImport", { path: `/api/imports/${purchases}` }, 200);
    expect((status as { counts: { row_errors: number } }).counts.row_errors).toBeGreaterThan(0);
    await call("getImport", { path: "/api/imports/not-a-uuid" }, 400);
    await call("getImport", { path: `/api/imports/${uuidv7()}` }, 404);

    const { body: page } = await call("listImportErrors", { path: `/api/imports/${purchases}/errors?limit=5` }, 200);
    expect((page as { errors: unknown[] }).errors).toHaveLength(5);
    await call("listImportErrors", { path: `/api/imports/${purchases}/errors?format=csv` }, 200);
    await call("listImportErrors", { path: `/api/imports/${purchases}/errors?limit=0` }, 400);
  }, 120_000);

  let reconcileId: string;

  it("reconcile: start a run, list, status, results (JSON and CSV), one invoice, the margin report", async () => {
    const { body: started } = await call("createReconcile", { path: "/api/reconcile", body: {} }, 202);
    reconcileId = (started as { job_id: string }).job_id;
    expect((await untilEnded<{ status: string }>(`/api/reconcile/${reconcileId}`)).status).toBe("completed");
    await call("createReconcile", { path: "/api/reconcile", body: { tolerance: -1 } }, 400);

    await call("listReconcileRuns", { path: "/api/reconcile" }, 200);
    await call("listReconcileRuns", { path: "/api/reconcile?status=done" }, 400);
    await call("getReconcileRun", { path: `/api/reconcile/${reconcileId}` }, 200);
    await call("getReconcileRun", { path: "/api/reconcile/123" }, 400);
    await call("getReconcileRun", { path: `/api/reconcile/${landed[0]?.job_id}` }, 404);

    const { body: results } = await call("listReconcileResults", { path: `/api/reconcile/${reconcileId}/results?outcome=matched&limit=3` }, 200);
    await call("listReconcileResults", { path: `/api/reconcile/${reconcileId}/results?format=csv` }, 200);
    await call("listReconcileResults", { path: `/api/reconcile/${reconcileId}/results?outcome=lost` }, 400);

    const matched = (results as { results: Array<{ store: string; invoice: string }> }).results[0];
    expect(matched).toBeDefined();
    const invoice = `/api/invoices/${encodeURIComponent(matched?.invoice ?? "")}?store=${encodeURIComponent(matched?.store ?? "")}`;
    const { body: whole } = await call("getInvoice", { path: invoice }, 200);
    expect((whole as { purchases: unknown[]; settlement: unknown }).purchases.length).toBeGreaterThan(0);
    await call("getInvoice", { path: `${invoice}&extra=1` }, 400);
    await call("getInvoice", { path: `/api/invoices/NO-SUCH-INVOICE?store=${encodeURIComponent(matched?.store ?? "")}` }, 404);

    for (const group of ["month", "store", "sku"]) await call("getMarginReport", { path: `/api/reports/margin?group=${group}` }, 200);
    await call("getMarginReport", { path: "/api/reports/margin?group=store&format=csv" }, 200);
    await call("getMarginReport", { path: "/api/reports/margin?from=2025-02-30" }, 400);
  }, 120_000);

  it("queue deliveries: a signed plan, a signed failure callback, then the import's failed chunk retried", async () => {
    // The queue holds every delivery, so the plan and the failure reach the app only as this test signs them.
    app.server.queue?.pause();
    let jobId: string;
    try {
      const key = await storeCsv("held.csv", purchasesCsv(250, 20000));
      const { body: created } = await call("createImport", { path: "/api/imports", body: { file_type: "purchases", files: [{ key, name: "held.csv" }] } }, 202);
      jobId = (created as { job_id: string }).job_id;
      const { body: planned } = await call("runTask", delivery("/api/tasks/plan", task("plan", { job_id: jobId })), 200);
      expect(planned).toEqual({ outcome: "planned" });
      await call("runTask", delivery("/api/tasks/plan", JSON.stringify({ type: "Plan!", payload: {} })), 400);

      const failure = JSON.stringify({ status: 500, retried: 3, sourceBody: Buffer.from(task("chunk", { job_id: jobId, chunk: 0 })).toString("base64") });
      const { body: recorded } = await call("taskFailed", delivery("/api/tasks/failure", failure), 200);
      expect(recorded).toEqual({ outcome: "recorded" });
      await call("taskFailed", delivery("/api/tasks/failure", JSON.stringify({ status: 500 })), 400);
    } finally {
      app.server.queue?.resume();
    }
    const ended = await untilEnded<{ status: string }>(`/api/imports/${jobId}`);
    expect(ended.status).toBe("completed_with_errors");

    const { body: retried } = await call("retryImport", { path: `/api/imports/${jobId}/retry` }, 202);
    expect(retried).toEqual({ retried_chunks: 1, status_url: `/api/imports/${jobId}` });
    expect((await untilEnded<{ status: string }>(`/api/imports/${jobId}`)).status).toBe("completed");
    await call("retryImport", { path: `/api/imports/${jobId}/retry` }, 409);
    await call("retryImport", { path: "/api/imports/x/retry" }, 400);

    // The settlements of the first store: finished, its files deleted now.
    const settlements = landed[1]?.job_id as string;
    const { body: deleted } = await call("deleteImportFiles", { path: `/api/imports/${settlements}/files` }, 200);
    expect(deleted).toMatchObject({ id: settlements, files_deleted: expect.any(Number) });
    expect((deleted as { files_deleted: number }).files_deleted).toBeGreaterThan(0);
    await call("deleteImportFiles", { path: "/api/imports/x/files" }, 400);
  }, 120_000);

  it("jobs: create, list, one, cancel, retry", async () => {
    const { body: job } = await call("createJob", { path: "/api/jobs", body: { kind: "test-rows", params: { chunks: 2, rows_per_chunk: 2, offset: 100 } } }, 202);
    await untilEnded(`/api/jobs/${(job as { id: string }).id}`);
    await call("createJob", { path: "/api/jobs", body: { kind: "import", params: {} } }, 400);
    await call("listJobs", { path: "/api/jobs?kind=test-rows" }, 200);
    await call("listJobs", { path: "/api/jobs?limit=0" }, 400);
    await call("getJob", { path: `/api/jobs/${(job as { id: string }).id}` }, 200);
    await call("getJob", { path: "/api/jobs/123" }, 400);
    await call("getJob", { path: `/api/jobs/${uuidv7()}` }, 404);

    app.server.queue?.pause();
    try {
      const held = await app.api("/api/jobs", { method: "POST", body: JSON.stringify({ kind: "test-rows", params: { chunks: 2, offset: 200 } }) });
      const { id } = (await held.json()) as { id: string };
      const { body: cancelled } = await call("cancelJob", { path: `/api/jobs/${id}/cancel` }, 200);
      expect(cancelled).toMatchObject({ id, status: "cancelled" });
    } finally {
      app.server.queue?.resume();
    }
    await call("cancelJob", { path: `/api/jobs/${(job as { id: string }).id}/cancel` }, 409);
    await call("cancelJob", { path: "/api/jobs/123/cancel" }, 400);

    const failing = await app.api("/api/jobs", { method: "POST", body: JSON.stringify({ kind: "test-rows", params: { chunks: 2, offset: 300, fail_chunks: [1] } }) });
    const { id: failingId } = (await failing.json()) as { id: string };
    expect((await untilEnded<{ status: string }>(`/api/jobs/${failingId}`)).status).toBe("completed_with_errors");
    const { body: retried } = await call("retryJob", { path: `/api/jobs/${failingId}/retry` }, 202);
    expect(retried).toMatchObject({ retried_chunks: 1, job: { id: failingId } });
    await untilEnded(`/api/jobs/${failingId}`);
    await call("retryJob", { path: "/api/jobs/123/retry" }, 400);
  }, 120_000);

  it("sync: start runs of both sources, their records, the catalogue, the cron starts", async () => {
    const { body: sap } = await call("startSync", { path: "/api/sync/sap", body: { mode: "full" } }, 202);
    expect((await untilEnded<{ status: string }>(`/api/sync/runs/${(sap as { job_id: string }).job_id}`)).status).toBe("completed");
    const { body: emag } = await call("startSync", { path: "/api/sync/emag", body: {} }, 202);
    const emagId = (emag as { job_id: string }).job_id;
    expect((await untilEnded<{ status: string }>(`/api/sync/runs/${emagId}`)).status).toBe("completed");
    await call("startSync", { path: "/api/sync/emag", body: { mode: "incremental" } }, 400);
    await call("startSync", { path: "/api/sync/shopify", body: {} }, 400);

    await call("listSyncRuns", { path: "/api/sync/runs?source=emag" }, 200);
    await call("listSyncRuns", { path: "/api/sync/runs?limit=0" }, 400);
    await call("getSyncRun", { path: `/api/sync/runs/${emagId}` }, 200);
    await call("getSyncRun", { path: "/api/sync/runs/123" }, 400);
    await call("getSyncRun", { path: `/api/sync/runs/${reconcileId}` }, 404);
    const { body: catalogue } = await call("listCatalogue", { path: "/api/catalogue?source=emag&limit=5" }, 200);
    expect((catalogue as { items: unknown[] }).items).toHaveLength(5);
    await call("listCatalogue", { path: "/api/catalogue?retired=never" }, 400);

    for (const [operationId, route] of [
      ["cronSyncEmag", "/api/cron/sync-emag"],
      ["cronSyncSap", "/api/cron/sync-sap"],
    ] as const) {
      const { body: report } = await call(operationId, { path: route }, 200);
      for (const run of (report as { started: Array<{ job_id: string }> }).started) await untilEnded(`/api/sync/runs/${run.job_id}`);
    }
    await call("cronSyncSap", { path: "/api/cron/sync-sap?mode=partial" }, 400);
  }, 120_000);

  it("operations: the watchdog, retention, metrics, logs", async () => {
    await call("watchdog", { path: "/api/cron/watchdog" }, 200);
    await call("retention", { path: "/api/cron/retention" }, 200);
    const { body: metrics } = await call("metrics", { path: "/api/metrics" }, 200);
    expect(metrics).toMatch(/^# HELP /m);
    await call("searchLogs", { path: "/api/logs?level=warn&limit=10" }, 200);
    await call("searchLogs", { path: "/api/logs?since=yesterday" }, 400);
  });

  describe("credentials", () => {
    /** The DESIGN's public routes (health) and this document: nothing else may be called without credentials. */
    const PUBLIC = ["health", "healthHead", "getOpenApiDocument"];
    const SAMPLE: Record<string, string> = { id: "01a24aa3-d511-703b-94bd-ae23e3ccb9ef", invoice: "INV-1", source: "emag", type: "chunk" };
    const sample = (route: string) => route.replace(/\{(\w+)\}/g, (_, name: string) => SAMPLE[name] ?? name);

    it("only health and this document are public", () => {
      expect(API_OPERATIONS.filter((operation) => operation.auth === "public" && !operation.callers).map((operation) => operation.operationId).sort()).toEqual(
        [...PUBLIC].sort(),
      );
    });

    it("every other route answers 401 without credentials and with a wrong token: a JSON problem, no stack trace", async () => {
      for (const operation of API_OPERATIONS.filter((candidate) => !PUBLIC.includes(candidate.operationId))) {
        const body = operation.method === "post" ? task("chunk", { job_id: SAMPLE.id, chunk: 0 }) : undefined;
        const ask = { path: sample(operation.path), ...(body === undefined ? {} : { body }) };
        await call(operation.operationId, { ...ask, credentials: "none" }, 401);
        await call(operation.operationId, { ...ask, credentials: "none", headers: { authorization: "Bearer wrong-token-0123456789abcdef" } }, 401);
      }
    });

    it("each way in takes only its own secret: cron and metrics refuse the API token, API routes the cron secret", async () => {
      await call("watchdog", { path: "/api/cron/watchdog", credentials: "api" }, 401);
      await call("metrics", { path: "/api/metrics", credentials: "cron" }, 401);
      await call("metrics", { path: "/api/metrics", credentials: "api" }, 401);
      await call("listJobs", { path: "/api/jobs", credentials: "cron" }, 401);
    });

    it("queue routes refuse a missing or invalid Upstash-Signature; uploads a forged Blob signature", async () => {
      const body = task("chunk", { job_id: SAMPLE.id, chunk: 0 });
      for (const [operationId, route] of [
        ["runTask", "/api/tasks/chunk"],
        ["taskFailed", "/api/tasks/failure"],
      ] as const) {
        await call(operationId, { path: route, body }, 401);
        await call(operationId, { path: route, body, headers: { "upstash-signature": "not-a-jwt" } }, 401);
        // Signed for another route: not this delivery.
        await call(operationId, { ...delivery("/api/tasks/plan", body), path: route }, 401);
      }
      const callback = JSON.stringify({ type: "blob.upload-completed", payload: { blob: { pathname: newImportKey("forged.csv") } } });
      await call("handleUpload", { path: "/api/uploads", body: callback, headers: { "x-vercel-signature": "0".repeat(64) } }, 401);
    });
  });

  it("saw every operation's success answer, its 400 where it documents one, and its 401 where it takes credentials", () => {
    const missing: string[] = [];
    for (const operation of API_OPERATIONS) {
      const seen = conformance.seen.get(operation.operationId) ?? new Set<number>();
      const documented = Object.keys(conformance.documented(operation)).map(Number);
      const success = documented.filter((status) => status < 300);
      if (!success.some((status) => seen.has(status))) missing.push(`${operation.operationId}: a success (${success.join("/")})`);
      if (documented.includes(400) && !seen.has(400)) missing.push(`${operation.operationId}: 400`);
      if (documented.includes(401) && !seen.has(401)) missing.push(`${operation.operationId}: 401`);
      for (const status of seen) expect(documented, operation.operationId).toContain(status);
    }
    expect(missing).toEqual([]);
  });

  it("left nothing running", async () => {
    const jobs = await json<{ jobs: Array<{ id: string; status: string }> }>("/api/jobs?limit=200");
    expect(jobs.jobs.filter((job) => !isTerminal(job.status))).toEqual([]);
  });
});
