/** The routes around the pipelines: health, this document, stores, uploads, metrics, logs, retention. */
import { z } from "zod";
import { HealthReportSchema } from "../../health/index.js";
import { UploadAnswerSchema, UploadEvent, UploadSettingsSchema } from "../../imports/uploads.js";
import { LogPageSchema, LogQuery } from "../../logs/store.js";
import { RetentionReportSchema } from "../../retention/sweep.js";
import { StoreListSchema } from "../../stores/index.js";
import { jsonAnswer, OpenApiDocumentSchema } from "../answers.js";
import type { ApiOperation } from "../operation.js";

export const PLATFORM_OPERATIONS: ApiOperation[] = [
  {
    operationId: "health",
    method: "get",
    path: "/api/health",
    auth: "public",
    tag: "operations",
    summary: "Up or down, with each dependency's latency",
    description: "Public on purpose: no internals (no hosts, no driver messages). 503 names what is down.",
    answers: {
      200: jsonAnswer("Every configured dependency answered.", HealthReportSchema),
      503: jsonAnswer("A dependency is down: `down` names it.", HealthReportSchema),
    },
  },
  {
    operationId: "healthHead",
    method: "head",
    path: "/api/health",
    auth: "public",
    tag: "operations",
    summary: "GET /api/health's status and headers, without a body (uptime monitors)",
    answers: { 200: { description: "Up." }, 503: { description: "A dependency is down." } },
  },
  {
    operationId: "getOpenApiDocument",
    method: "get",
    path: "/api/openapi.json",
    auth: "public",
    tag: "operations",
    summary: "This document",
    description: "Built from the zod schemas the routes parse and answer with (lib/openapi). Public: it holds no data.",
    answers: {
      200: jsonAnswer("The OpenAPI 3.1 document.", OpenApiDocumentSchema, { "cache-control": "Public, cacheable for a few minutes." }),
    },
  },
  {
    operationId: "listStores",
    method: "get",
    path: "/api/stores",
    auth: "api",
    tag: "imports",
    summary: "Every store, by name",
    answers: { 200: jsonAnswer("The stores (a purchase import creates them).", StoreListSchema) },
  },
  {
    operationId: "handleUpload",
    method: "post",
    path: "/api/uploads",
    auth: "public",
    callers: ["apiBearer", "blobCallback"],
    tag: "imports",
    summary: "Vercel Blob client uploads: a client token, or the upload-completed callback",
    description:
      "Two callers, each with its own proof, checked before anything else: a token request (`blob.generate-client-token`) needs the API bearer and " +
      "gets a token for one new import key `imports/<uuid>/<name>`; Vercel Blob's upload-completed callback needs its `x-vercel-signature` and " +
      "records the upload (and its SHA-256). The body is what `upload()` of @vercel/blob/client sends.",
    body: { "application/json": UploadEvent },
    answers: { 200: jsonAnswer("The token, or the callback recorded.", UploadAnswerSchema) },
    problems: ["service_unavailable"],
  },
  {
    operationId: "getUploadSettings",
    method: "get",
    path: "/api/uploads",
    auth: "api",
    tag: "imports",
    summary: "Where a client upload's bytes go and the largest file allowed",
    answers: { 200: jsonAnswer("The Blob API and the size limit.", UploadSettingsSchema) },
  },
  {
    operationId: "metrics",
    method: "get",
    path: "/api/metrics",
    auth: "metrics",
    tag: "operations",
    summary: "Every process's counters and histograms, in the Prometheus text format",
    answers: {
      200: {
        description: "The exposition (text/plain; version=0.0.4), read from the metrics store at scrape time.",
        content: { "text/plain": z.string() },
      },
    },
  },
  {
    operationId: "searchLogs",
    method: "get",
    path: "/api/logs",
    auth: "api",
    tag: "operations",
    summary: "The searchable logs: WARN and above, and job lifecycle events",
    description: "By correlation id, job, level (and above), time and text, in time order.",
    query: LogQuery,
    answers: { 200: jsonAnswer("A page of log records.", LogPageSchema) },
  },
  {
    operationId: "retention",
    method: "get",
    path: "/api/cron/retention",
    auth: "cron",
    tag: "cron",
    summary: "Deletes what is kept only for a while, within the budget (daily)",
    description: "Old log records, finished jobs' row errors, dry-run rows and sync chunk rows, and uploaded files.",
    answers: { 200: jsonAnswer("What this pass deleted.", RetentionReportSchema) },
    problems: ["service_unavailable"],
  },
];
