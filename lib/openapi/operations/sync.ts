/** The catalogue sync's routes: starting runs (API and cron), their records, the catalogue. */
import { JobIdParams } from "../../jobs/index.js";
import { CataloguePageSchema, CatalogueQuery } from "../../sync/catalogue-list.js";
import { StartedRunSchema } from "../../sync/create.js";
import { SapCronQuery, SyncRequest, SyncSourceParams } from "../../sync/params.js";
import { CronStartReportSchema } from "../../sync/start.js";
import { SyncRunListQuery, SyncRunListSchema, SyncRunRecordSchema } from "../../sync/status.js";
import { jsonAnswer, LOCATION } from "../answers.js";
import type { ApiOperation } from "../operation.js";

export const SYNC_OPERATIONS: ApiOperation[] = [
  {
    operationId: "startSync",
    method: "post",
    path: "/api/sync/{source}",
    auth: "api",
    tag: "sync",
    summary: "Starts a catalogue sync run of eMAG or SAP Business One",
    description:
      "eMAG runs are full scans (`incremental` is a 400 saying why); SAP runs are incremental by default, full when no run completed yet " +
      "(said in `note`). `account` is needed only when several eMAG accounts are configured. 409 `sync_running` (with `job_id`) while a run " +
      "of that source and account goes.",
    query: SyncSourceParams,
    body: { "application/json": SyncRequest },
    idempotent: true,
    answers: { 202: jsonAnswer("The run is queued.", StartedRunSchema, LOCATION) },
    problems: ["sync_running", "source_not_configured", "conflict", "service_unavailable"],
  },
  {
    operationId: "listSyncRuns",
    method: "get",
    path: "/api/sync/runs",
    auth: "api",
    tag: "sync",
    summary: "Sync runs, newest first, with their records",
    query: SyncRunListQuery,
    answers: { 200: jsonAnswer("A page of run records.", SyncRunListSchema) },
  },
  {
    operationId: "getSyncRun",
    method: "get",
    path: "/api/sync/runs/{id}",
    auth: "api",
    tag: "sync",
    summary: "One sync run's record: how it ended and why, what it saw, created, updated and retired, its requests",
    query: JobIdParams,
    answers: { 200: jsonAnswer("The run record.", SyncRunRecordSchema) },
    problems: ["not_found"],
  },
  {
    operationId: "listCatalogue",
    method: "get",
    path: "/api/catalogue",
    auth: "api",
    tag: "sync",
    summary: "The synced catalogue, by source and account, searchable by name, SKU or handle",
    query: CatalogueQuery,
    answers: { 200: jsonAnswer("A page of items.", CataloguePageSchema) },
  },
  {
    operationId: "cronSyncEmag",
    method: "get",
    path: "/api/cron/sync-emag",
    auth: "cron",
    tag: "cron",
    summary: "A full run of every configured eMAG account (hourly)",
    description: "A run still going is reported in `running`, not an error.",
    answers: { 200: jsonAnswer("What this tick started.", CronStartReportSchema) },
    problems: ["service_unavailable"],
  },
  {
    operationId: "cronSyncSap",
    method: "get",
    path: "/api/cron/sync-sap",
    auth: "cron",
    tag: "cron",
    summary: "A SAP run: incremental every 15 minutes, `?mode=full` nightly",
    query: SapCronQuery,
    answers: { 200: jsonAnswer("What this tick started.", CronStartReportSchema) },
    problems: ["service_unavailable"],
  },
];
