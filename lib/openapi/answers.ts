/**
 * Shorthands for the registry's answers, and the shape of the answers that are not a
 * capability's: the OpenAPI document itself, and the text downloads.
 */
import { z } from "zod";
import type { Answer } from "./operation.js";

/** GET /api/openapi.json: an OpenAPI 3.1 document (its own specification says the rest). */
export const OpenApiDocumentSchema = z.looseObject({
  openapi: z.string().regex(/^3\.1\.\d+$/),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
  components: z.record(z.string(), z.unknown()),
});

/** A CSV download: the same rows as the JSON pages, every one of them, spreadsheet-safe (lib/downloads/csv.ts). */
export const CsvDownload = z.string().describe("CSV with a header line, streamed as an attachment.");

export const jsonAnswer = (description: string, schema: z.ZodType, headers?: Record<string, string>): Answer => ({
  description,
  content: { "application/json": schema },
  ...(headers ? { headers } : {}),
});

/** Where to follow what a 202 started. */
export const LOCATION = { location: "The URL of what was started (the answer's status_url)." };
