/** Reconcile runs, their results, one invoice whole, and the margin report. */
import { InvoiceQuery, InvoiceViewSchema } from "../../invoices/lookup.js";
import { JobIdParams, JobListQuery } from "../../jobs/index.js";
import { ReconcileStartedSchema } from "../../reconcile/create.js";
import { ReconcileRequest } from "../../reconcile/params.js";
import { ResultPageSchema, ResultQuery } from "../../reconcile/results.js";
import { ReconcileRunListSchema, ReconcileRunStatusSchema } from "../../reconcile/status.js";
import { MarginReportAnswerSchema, MarginReportQuery } from "../../reports/margin.js";
import { CsvDownload, jsonAnswer, LOCATION } from "../answers.js";
import type { ApiOperation } from "../operation.js";

export const RECONCILE_OPERATIONS: ApiOperation[] = [
  {
    operationId: "createReconcile",
    method: "post",
    path: "/api/reconcile",
    auth: "api",
    tag: "reconcile",
    summary: "Starts a reconcile run: every purchase against its marketplace settlement",
    description:
      "Dates are YYYY-MM-DD in Asia/Jakarta, inclusive; `tolerance` is whole rupiah. 409 `import_running` (with `job_id`) while an import " +
      "writes to what the run would read.",
    body: { "application/json": ReconcileRequest },
    idempotent: true,
    answers: { 202: jsonAnswer("The run is queued.", ReconcileStartedSchema, LOCATION) },
    problems: ["import_running", "conflict", "service_unavailable"],
  },
  {
    operationId: "listReconcileRuns",
    method: "get",
    path: "/api/reconcile",
    auth: "api",
    tag: "reconcile",
    summary: "Reconcile runs, newest first, with their counts",
    query: JobListQuery,
    answers: { 200: jsonAnswer("A page of runs.", ReconcileRunListSchema) },
  },
  {
    operationId: "getReconcileRun",
    method: "get",
    path: "/api/reconcile/{id}",
    auth: "api",
    tag: "reconcile",
    summary: "A run's status, filters, counts and amounts per outcome and store, and aging",
    query: JobIdParams,
    answers: { 200: jsonAnswer("The run (so far, while it runs).", ReconcileRunStatusSchema) },
    problems: ["not_found"],
  },
  {
    operationId: "listReconcileResults",
    method: "get",
    path: "/api/reconcile/{id}/results",
    auth: "api",
    tag: "reconcile",
    summary: "A run's results in (store, invoice) order",
    description: "`format=json` a page at a time; `format=csv` all of them as one streamed download.",
    query: ResultQuery,
    answers: {
      200: {
        description: "A page of results (JSON), or all of them (CSV).",
        content: { "application/json": ResultPageSchema, "text/csv": CsvDownload },
      },
    },
    problems: ["not_found"],
  },
  {
    operationId: "getInvoice",
    method: "get",
    path: "/api/invoices/{invoice}",
    auth: "api",
    tag: "reconcile",
    summary: "One invoice whole: its purchases with lines, its settlement, its current outcome",
    description: "`store` (its name) is needed only when several stores have the invoice (a 400 naming `store` then).",
    query: InvoiceQuery,
    answers: { 200: jsonAnswer("The invoice.", InvoiceViewSchema) },
    problems: ["not_found"],
  },
  {
    operationId: "getMarginReport",
    method: "get",
    path: "/api/reports/margin",
    auth: "api",
    tag: "reconcile",
    summary: "The margin report by month, store or SKU, with its totals",
    description: "What the latest reconcile runs decided. `format=csv` is the same report as a download with a `TOTAL` row.",
    query: MarginReportQuery,
    answers: {
      200: {
        description: "The report (JSON), or the same as CSV.",
        content: { "application/json": MarginReportAnswerSchema, "text/csv": CsvDownload },
      },
    },
  },
];
