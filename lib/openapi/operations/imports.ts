/** The bulk CSV import's routes. */
import { ImportCreatedSchema } from "../../imports/create.js";
import { ImportFilesDeletedSchema } from "../../imports/delete-files.js";
import { RecommendationQuery, RecommendationSchema } from "../../imports/recommend.js";
import { CreateImportForm, CreateImportJson } from "../../imports/request.js";
import { ImportListSchema, ImportRetriedSchema, ImportStatusSchema, RowErrorPageSchema, RowErrorQuery } from "../../imports/status.js";
import { JobIdParams, JobListQuery } from "../../jobs/index.js";
import { CsvDownload, jsonAnswer, LOCATION } from "../answers.js";
import type { ApiOperation } from "../operation.js";

export const IMPORT_OPERATIONS: ApiOperation[] = [
  {
    operationId: "createImport",
    method: "post",
    path: "/api/imports",
    auth: "api",
    tag: "imports",
    summary: "Starts an import of supplier purchase exports or marketplace settlement reports",
    description:
      "JSON names files already in object storage (POST /api/uploads), by key or storage URL; multipart/form-data sends them in the " +
      "request (4 MiB in all). 1–200 files, each must exist; the same content twice in one import is a 400 `duplicate_content`. " +
      "`kind` is the earlier name of `file_type`, still accepted. `callback_url` gets a signed completion webhook; `reconcile: true` " +
      "starts a reconcile run over what the import landed once it ends.",
    body: { "application/json": CreateImportJson, "multipart/form-data": CreateImportForm },
    idempotent: true,
    answers: { 202: jsonAnswer("The import is queued.", ImportCreatedSchema, LOCATION) },
    problems: ["bad_request", "duplicate_content", "payload_too_large", "conflict", "service_unavailable"],
  },
  {
    operationId: "listImports",
    method: "get",
    path: "/api/imports",
    auth: "api",
    tag: "imports",
    summary: "Imports, newest first",
    query: JobListQuery,
    answers: { 200: jsonAnswer("A page of imports as job views.", ImportListSchema) },
  },
  {
    operationId: "recommendImport",
    method: "get",
    path: "/api/imports/recommendations",
    auth: "api",
    tag: "imports",
    summary: "How to cut an upcoming import, and how long it should take",
    description: "From the last 50 finished imports of this deployment (the benchmark's figures until there are any).",
    query: RecommendationQuery,
    answers: { 200: jsonAnswer("The recommendation and what it is based on.", RecommendationSchema) },
  },
  {
    operationId: "getImport",
    method: "get",
    path: "/api/imports/{id}",
    auth: "api",
    tag: "imports",
    summary: "An import's status, progress, counts, files and first errors",
    query: JobIdParams,
    answers: { 200: jsonAnswer("The import (so far, while it runs).", ImportStatusSchema) },
    problems: ["not_found"],
  },
  {
    operationId: "listImportErrors",
    method: "get",
    path: "/api/imports/{id}/errors",
    auth: "api",
    tag: "imports",
    summary: "An import's row errors and warnings, in the order found",
    description: "`format=json` a page at a time; `format=csv` all of them as one streamed download (`file,line,column,code,message,raw,sheet,cell`).",
    query: RowErrorQuery,
    answers: {
      200: {
        description: "A page of row errors (JSON), or all of them (CSV).",
        content: { "application/json": RowErrorPageSchema, "text/csv": CsvDownload },
      },
    },
    problems: ["not_found"],
  },
  {
    operationId: "deleteImportFiles",
    method: "delete",
    path: "/api/imports/{id}/files",
    auth: "api",
    tag: "imports",
    summary: "Deletes a finished import's uploaded files now (they hold buyers' details)",
    description: "Its counts, errors and data stay. 409 while it runs.",
    query: JobIdParams,
    answers: { 200: jsonAnswer("How many files were deleted.", ImportFilesDeletedSchema) },
    problems: ["not_found", "conflict", "service_unavailable"],
  },
  {
    operationId: "retryImport",
    method: "post",
    path: "/api/imports/{id}/retry",
    auth: "api",
    tag: "imports",
    summary: "Runs again the chunks of an import that failed as a whole",
    description: "Rows rejected for bad data stay rejected. 409 when no chunk failed or the import was cancelled.",
    query: JobIdParams,
    answers: { 202: jsonAnswer("The chunks are queued again.", ImportRetriedSchema) },
    problems: ["not_found", "conflict", "service_unavailable"],
  },
];
