/**
 * Every route of the API, one entry per file and method under api/ (docs/api.md, "Adding
 * a route"). test/api/openapi.test.ts walks api/ and fails for a route missing here, or
 * one whose auth or schemas differ from what its route() was given.
 */
import type { ApiOperation, HttpMethod } from "./operation.js";
import { IMPORT_OPERATIONS } from "./operations/imports.js";
import { JOB_OPERATIONS } from "./operations/jobs.js";
import { PLATFORM_OPERATIONS } from "./operations/platform.js";
import { RECONCILE_OPERATIONS } from "./operations/reconcile.js";
import { SYNC_OPERATIONS } from "./operations/sync.js";

export const API_OPERATIONS: readonly ApiOperation[] = [
  ...IMPORT_OPERATIONS,
  ...RECONCILE_OPERATIONS,
  ...SYNC_OPERATIONS,
  ...JOB_OPERATIONS,
  ...PLATFORM_OPERATIONS,
];

/** The document's tags, in the order a reader meets them. */
export const API_TAGS: ReadonlyArray<{ name: string; description: string }> = [
  { name: "imports", description: "Bulk CSV imports: uploads, imports, their files, row errors and counts." },
  { name: "reconcile", description: "Reconcile runs, their results, one invoice whole, and the margin report." },
  { name: "sync", description: "The catalogue sync from eMAG and SAP Business One, its run records, the catalogue." },
  { name: "jobs", description: "The job engine every pipeline runs on: any job's status, cancel and retry." },
  { name: "operations", description: "Health, metrics, logs and this document." },
  { name: "cron", description: "What Vercel cron calls (Bearer $CRON_SECRET), on the schedules in vercel.json." },
  { name: "queue", description: "What QStash delivers (a valid Upstash-Signature over the raw body)." },
];

export function findOperation(method: HttpMethod, path: string): ApiOperation | undefined {
  return API_OPERATIONS.find((operation) => operation.method === method && operation.path === path);
}
