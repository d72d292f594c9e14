/**
 * POST /api/uploads: Vercel Blob client uploads, so that large files
 * go from the client straight to Blob storage, never through a function's body. The
 * route serves two callers, each with its own proof (the API bearer for a token
 * request, Blob's signature for the upload-completed callback), which is why it is
 * `auth: "public"` in route() and checks here:
 *
 * - `blob.generate-client-token`, from our API client (`upload(pathname, file,
 *   { handleUploadUrl, headers: { authorization: "Bearer <API token>" } })`): needs the
 *   API bearer, checked before the body is read. The token it gets allows one object:
 *   the pathname asked for, which must be a fresh import key `imports/<uuid>/<name>`
 *   (newImportKey(): the SDK signs the client's pathname, so the server can refuse
 *   others but not rename them), CSV content types only, at most
 *   DROPFLOW_MAX_UPLOAD_BYTES, no overwrite, and our own callback URL.
 * - `blob.upload-completed`, from Vercel Blob once the file is stored: needs a valid
 *   `x-vercel-signature` (HMAC-SHA256 with the store's read-write token, checked by
 *   the SDK's handleUpload()); it records the upload in `uploads`, then streams the
 *   object from storage to record its SHA-256 there too (POST /api/imports refuses the
 *   same content twice in one import without reading the file again). A forged callback
 *   is a 401 and records nothing.
 *
 * Allowed content types: text/csv and its aliases (application/csv, text/x-csv),
 * application/vnd.ms-excel (what Windows browsers with Excel installed report for a
 * .csv), the .xlsx workbook type, text/plain and text/tab-separated-values (exports saved as .txt/.tsv). Not
 * application/octet-stream: it says nothing about the bytes, and a client that does
 * not know the type need not send one (the store infers it from the name, text/csv
 * for a .csv). The import sniffs every file anyway and fails what is neither CSV nor a workbook.
 */
import type * as BlobSdk from "@vercel/blob";
import type * as BlobClientSdk from "@vercel/blob/client";
import type { HandleUploadBody } from "@vercel/blob/client";
import { sql } from "drizzle-orm";
import { z } from "zod";
import { queryRows } from "../db/client.js";
import { AppError } from "../errors.js";
import { authenticate } from "../http/auth.js";
import { json } from "../http/respond.js";
import { readJsonBody } from "../http/route.js";
import { startBudget } from "../jobs/budget.js";
import { logger } from "../log/index.js";
import type { Runtime } from "../runtime.js";
import { importKeyFileName } from "../storage/keys.js";
import { assertSafeText, parseInput, unsafeTextProblem } from "../validate.js";
import { hashObject } from "./content.js";

export const UPLOADS_PATH = "/api/uploads";
export const UPLOAD_CONTENT_TYPES = [
  "text/csv",
  "application/csv",
  "text/x-csv",
  "application/vnd.ms-excel",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  "text/plain",
  "text/tab-separated-values",
] as const;
/** How long a client token may be used (each part of a multipart upload shows it again). */
export const CLIENT_TOKEN_VALIDITY_MS = 60 * 60 * 1000;
const SIGNATURE_HEADER = "x-vercel-signature";
const MAX_NAME_LENGTH = 255;

const log = logger("uploads");

/** The two events handleUpload() takes; checked here so that a bad body is a 400 naming the field. */
export const UploadEvent = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("blob.generate-client-token"),
    payload: z.object({
      pathname: z.string(),
      clientPayload: z.string().nullable().optional(),
      multipart: z.boolean().optional(),
    }),
  }),
  z.object({
    type: z.literal("blob.upload-completed"),
    payload: z.object({
      blob: z.object({ pathname: z.string() }).loose(),
      tokenPayload: z.string().nullable().optional(),
    }),
  }),
]);

/** What POST /api/uploads answers each event with (the SDK's handleUpload() result). */
export const UploadAnswerSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("blob.generate-client-token"),
    clientToken: z.string().describe("Allows one object: the pathname asked for, CSV content types, no overwrite, for an hour."),
  }),
  z.object({ type: z.literal("blob.upload-completed"), response: z.literal("ok") }),
]);
export type UploadAnswer = z.infer<typeof UploadAnswerSchema>;

/**
 * What a client needs before its first client upload (GET /api/uploads): where the
 * bytes go and how large a file may be. A browser has no environment to read
 * VERCEL_BLOB_API_URL from, so the dashboard asks here.
 */
export const UploadSettingsSchema = z.object({
  /** The Blob API to send the bytes to; null: Vercel Blob's own (the SDK's default). */
  blob_api_url: z.string().url().nullable(),
  /** DROPFLOW_MAX_UPLOAD_BYTES: a larger file is refused when its token is asked for. */
  max_upload_bytes: z.number().int().positive(),
});
export type UploadSettings = z.infer<typeof UploadSettingsSchema>;

/** The configured Blob API (a Blob-compatible server, or the dev server's stand-in) and the size limit. */
export function uploadSettings(runtime: Runtime): UploadSettings {
  return { blob_api_url: runtime.blobSettings().apiUrl, max_upload_bytes: runtime.config.maxUploadBytes };
}

/** `clientPayload` / `tokenPayload`: JSON `{ "name": "<the file's own name>" }`, optional. */
const NamePayload = z.object({ name: z.string().trim().min(1).max(MAX_NAME_LENGTH) });

type ClientSdk = typeof BlobClientSdk;
type Sdk = typeof BlobSdk;
let loading: Promise<[ClientSdk, Sdk]> | undefined;
/** Loaded on first use, like lib/storage/blob.ts: it brings its own undici. */
const loadSdks = () => {
  loading ??= Promise.all([import("@vercel/blob/client"), import("@vercel/blob")]);
  return loading;
};

export async function handleUploadRequest(runtime: Runtime, request: Request): Promise<Response> {
  const signed = request.headers.has(SIGNATURE_HEADER);
  // Who is calling decides what must be proven, before the body is read: Vercel Blob
  // signs its callback; anyone else is our client and needs the API bearer.
  if (!signed) authenticate("api", request, runtime);
  // Blob's callback is JSON whatever its content type says; our client must say JSON.
  const raw = await readJsonBody(request, { anyContentType: signed });
  const event = parseInput(UploadEvent, raw, "body");
  if (!signed && event.type === "blob.upload-completed") {
    throw new AppError("unauthorized", "An upload-completed callback must carry its x-vercel-signature.");
  }
  if (signed && event.type !== "blob.upload-completed") {
    throw new AppError("validation_failed", "Only the upload-completed callback is signed; a token request carries the API bearer.", {
      fields: [{ field: "type", location: "body", message: "must be blob.upload-completed for a signed request" }],
    });
  }

  const [{ handleUpload }, { BlobError }] = await loadSdks();
  const { token } = runtime.blobSettings();
  try {
    const result = await handleUpload({
      // Passed explicitly: without it the SDK would look for BLOB_READ_WRITE_TOKEN or OIDC itself.
      token,
      request,
      // The parsed body as it came: handleUpload() checks the callback's signature over
      // JSON.stringify(body), so it must not be the validated (re-built) copy.
      body: raw as HandleUploadBody,
      onBeforeGenerateToken: (pathname, clientPayload) => Promise.resolve(tokenOptions(runtime, pathname, clientPayload)),
      onUploadCompleted: ({ blob, tokenPayload }) => recordUpload(runtime, blob.pathname, tokenPayload ?? null),
    });
    return json(result satisfies UploadAnswer);
  } catch (error) {
    if (error instanceof BlobError && /callback signature/i.test(error.message)) {
      log.warn("refused an upload-completed callback with an invalid signature");
      throw new AppError("unauthorized", "Invalid upload-completed callback signature.");
    }
    throw error;
  }
}

/** What the client token allows (see the top of this file). */
function tokenOptions(runtime: Runtime, pathname: string, clientPayload: string | null) {
  const fileName = importKeyFileName(pathname);
  if (fileName === null) {
    const message =
      "must be a new import key, imports/<uuid>/<file name> with a lower-case UUID and a sanitised name " +
      "(lib/storage newImportKey(name) makes one)";
    throw new AppError("validation_failed", `payload.pathname ${message}.`, {
      fields: [{ field: "payload.pathname", location: "body", message }],
    });
  }
  return {
    allowedContentTypes: [...UPLOAD_CONTENT_TYPES],
    maximumSizeInBytes: runtime.config.maxUploadBytes,
    addRandomSuffix: false,
    allowOverwrite: false,
    validUntil: Date.now() + CLIENT_TOKEN_VALIDITY_MS,
    // Signed into the token and handed back in the callback: the name to record.
    tokenPayload: JSON.stringify({ name: nameFrom(clientPayload, { refuseUnsafe: true }) ?? fileName }),
    // Explicit: off Vercel the SDK finds no callback URL by itself, and on Vercel it
    // would guess one from the request; this is the address Blob must call.
    callbackUrl: `${runtime.publicBaseUrl()}${UPLOADS_PATH}`,
  };
}

/**
 * The name a client or token payload gives, or null (none, or not JSON). A name with
 * NUL or a lone surrogate is refused at the token request (400 naming
 * `payload.clientPayload.name`); in a callback (a token of an older deployment) it is
 * ignored, so the upload is still recorded, under its key's name.
 */
function nameFrom(payload: string | null | undefined, options: { refuseUnsafe?: boolean } = {}): string | null {
  if (!payload) return null;
  try {
    const json: unknown = JSON.parse(payload);
    if (options.refuseUnsafe) assertSafeText(json, "body", ["payload", "clientPayload"]);
    const parsed = NamePayload.safeParse(json);
    return parsed.success && unsafeTextProblem(parsed.data.name) === null ? parsed.data.name : null;
  } catch (error) {
    if (error instanceof SyntaxError) return null; // a plain-text client payload names nothing
    throw error;
  }
}

/**
 * The signed callback: the object is stored; record what it is, then its SHA-256.
 * Idempotent (callbacks may repeat): a repeat for the same object keeps the hash it has.
 */
async function recordUpload(runtime: Runtime, key: string, tokenPayload: string | null): Promise<void> {
  const fileName = importKeyFileName(key);
  if (fileName === null) {
    // Signed with our token, so the store made it; but no token of ours names such a key.
    log.warn("upload-completed callback for a key that is not an import key; not recorded", { key });
    return;
  }
  const info = await runtime.objectStore().head(key);
  if (info === null) {
    // Answered 5xx: Blob retries the callback, by which time the object is visible.
    throw new AppError("service_unavailable", `The uploaded object ${JSON.stringify(key)} is not visible yet.`);
  }
  const name = nameFrom(tokenPayload) ?? fileName;
  const { db } = await runtime.database();
  // Recorded first, so the upload is known even if hashing is cut short.
  const [row] = await queryRows<{ sha256: string | null }>(
    db,
    sql`insert into uploads (key, name, size, content_type, etag, source, uploaded_at)
        values (${key}, ${name}, ${info.size}, ${info.contentType}, ${info.etag}, 'client', ${info.uploadedAt.toISOString()})
        on conflict (key) do update set name = excluded.name, size = excluded.size, content_type = excluded.content_type,
          sha256 = case when uploads.etag is not distinct from excluded.etag and uploads.size = excluded.size
                        then uploads.sha256 end,
          etag = excluded.etag, uploaded_at = excluded.uploaded_at, recorded_at = now()
        returning sha256`,
  );
  log.info("upload recorded", { key, size: info.size, content_type: info.contentType });
  if (!row?.sha256) await recordContentHash(runtime, key, info.size, info.etag);
}

/**
 * Streams the object and stores its SHA-256 on its `uploads` row (for the object of
 * `etag` only). Best effort: a file whose hash is not recorded is hashed by
 * POST /api/imports (within its budget) or by the planner, so a failure here is logged
 * and the callback still succeeds (a retried callback would only read the file again).
 */
async function recordContentHash(runtime: Runtime, key: string, size: number, etag: string): Promise<void> {
  const { jobs } = runtime.config;
  const budget = startBudget({ maxDurationMs: jobs.maxDurationMs, marginMs: jobs.deadlineMarginMs });
  const started = performance.now();
  try {
    const { sha256, bytes } = await hashObject(runtime.objectStore(), key, { signal: budget.signal });
    if (bytes !== size) {
      log.warn("the uploaded object changed while it was hashed; no hash recorded", { key, size, bytes });
      return;
    }
    const { db } = await runtime.database();
    await queryRows(db, sql`update uploads set sha256 = ${sha256} where key = ${key} and etag = ${etag} and size = ${size}`);
    log.info("upload hashed", { key, sha256, duration_ms: Math.round(performance.now() - started) });
  } catch (error) {
    log.warn("could not hash the upload; imports will hash it themselves", { key, err: error });
  } finally {
    budget.dispose();
  }
}
