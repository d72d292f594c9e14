/**
 * Creating an import (POST /api/imports) from its request, read by request.ts, through
 * one path: the request's files (multipart: refuse two parts of the same content) ->
 * check the callback URL -> Idempotency-Key claim -> resolve the store -> (multipart:
 * put the parts into object storage, form-parts.ts) -> check every object exists
 * (head) and that a URL names it at its own address -> refuse the same content twice
 * (content.ts) -> create the job and its files.
 *
 * Errors name the field (`files.1.url`, `store`); the same content twice is a 400
 * `duplicate_content` naming the later copy (`files.1`).
 */
import { z } from "zod";
import type { Database } from "../db/client.js";
import { importFiles } from "../db/schema.js";
import { AppError } from "../errors.js";
import { fingerprint, withIdempotency } from "../http/idempotency.js";
import type { FormFile } from "../http/multipart.js";
import { json } from "../http/respond.js";
import { startBudget } from "../jobs/budget.js";
import { uuidv7 } from "../jobs/ids.js";
import type { Runtime } from "../runtime.js";
import { validateObjectKey } from "../storage/keys.js";
import type { ObjectInfo, ObjectStore } from "../storage/types.js";
import { resolveStore } from "../stores/resolve.js";
import { checkCallbackUrl } from "../webhooks/callback-url.js";
import { contentHashes, duplicateContentError, sha256Hex } from "./content.js";
import { storeFormParts } from "./form-parts.js";
import { IMPORT_KIND } from "./job-params.js";
import type { FileReference, ImportRequest, ImportSettings } from "./request.js";

export const CREATE_IMPORT_SCOPE = "POST /api/imports";

/** POST /api/imports's 202: the job, its files as they will be imported, where to follow it. */
export const ImportCreatedSchema = z.object({
  job_id: z.string(),
  files: z.array(z.object({ id: z.string(), name: z.string(), size: z.number().int(), key: z.string() })),
  status_url: z.string(),
});
export type ImportCreated = z.infer<typeof ImportCreatedSchema>;

interface FileToImport {
  key: string;
  name: string;
  /** The URL the request named it by (`files[].url`), checked against the store's own. */
  url?: string;
  /** Known from the request's bytes (a multipart part). */
  sha256?: string;
  /** A workbook: the sheet to import (null: the one whose header fits). */
  sheet: string | null;
}

/** The request's files: what its Idempotency-Key fingerprint covers, and where they are once the claim is ours. */
interface RequestedFiles {
  fingerprintSource: unknown;
  files: () => Promise<FileToImport[]>;
}

/** A file of the job: an object in storage, at its place in the import. */
interface JobFile {
  id: string;
  key: string;
  name: string;
  size: number;
  position: number;
  sheet: string | null;
}

/** POST /api/imports, its body read (request.ts); `request` carries the Idempotency-Key. */
export async function createImport(
  runtime: Runtime,
  request: Request,
  body: ImportRequest,
  correlationId: string,
): Promise<Response> {
  const requested =
    body.form === "multipart" ? sentFiles(runtime, body.settings, body.files) : namedFiles(runtime, body.settings, body.files);
  const settings: ImportSettings = { ...body.settings };
  if (settings.callback_url !== null) {
    settings.callback_url = await checkCallbackUrl(settings.callback_url, { production: runtime.config.production });
  }

  const { db } = await runtime.database();
  const claim = { db, request, scope: CREATE_IMPORT_SCOPE, fingerprint: fingerprint(requested.fingerprintSource) };
  return withIdempotency(claim, async () => {
    // The store first: an unknown store refuses the request before any part is stored.
    const storeId = await storeIdOf(db, settings.store);
    return startImport(runtime, db, settings, storeId, await requested.files(), correlationId);
  });
}

/** Multipart: the parts' bytes are all here, so the same content twice is refused before anything is stored or claimed. */
function sentFiles(runtime: Runtime, settings: ImportSettings, parts: FormFile[]): RequestedFiles {
  const hashes = parts.map((part) => sha256Hex(part.bytes));
  const twins = duplicateContentError(parts.map((part) => part.name), hashes);
  if (twins) throw twins;
  return {
    fingerprintSource: {
      form: "multipart",
      ...settings,
      files: parts.map((part, i) => ({ name: part.name, size: part.bytes.length, sha256: hashes[i] })),
    },
    files: async () => (await storeFormParts(runtime, parts, hashes)).map((part) => ({ ...part, sheet: settings.sheet })),
  };
}

/** JSON: each file's key, given or read from its URL; one object named twice is refused. */
function namedFiles(runtime: Runtime, settings: ImportSettings, references: FileReference[]): RequestedFiles {
  const objects = runtime.objectStore();
  const refs = references.map((file, index) => ({
    key: keyOf(file, index, (url) => objects.keyOfUrl(url)),
    name: file.name,
    sheet: file.sheet ?? settings.sheet,
    ...(file.url ? { url: file.url } : {}),
  }));
  const duplicate = refs.findIndex((ref, i) => refs.findIndex((other) => other.key === ref.key) !== i);
  if (duplicate >= 0) {
    throw new AppError("validation_failed", `files.${duplicate} names the same object as an earlier file.`, {
      fields: [{ field: `files.${duplicate}`, location: "body", message: "the same file twice in one import" }],
    });
  }
  return { fingerprintSource: { form: "json", ...settings, files: refs }, files: () => Promise.resolve(refs) };
}

async function startImport(
  runtime: Runtime,
  db: Database,
  settings: ImportSettings,
  storeId: number | null,
  refs: FileToImport[],
  correlationId: string,
): Promise<Response> {
  const objects = runtime.objectStore();
  const heads = await objectsOf(objects, refs);
  const hashes = await distinctContentHashes(runtime, db, objects, refs, heads);
  const files: JobFile[] = refs.map((ref, position) => ({
    id: uuidv7(),
    key: ref.key,
    name: ref.name,
    size: heads[position]?.size ?? 0,
    position,
    sheet: ref.sheet,
  }));
  const jobId = await createImportJob(runtime, settings, storeId, files, hashes, correlationId);
  return json(
    {
      job_id: jobId,
      files: files.map(({ id, name, size, key }) => ({ id, name, size, key })),
      status_url: `/api/imports/${jobId}`,
    } satisfies ImportCreated,
    { status: 202, headers: { location: `/api/imports/${jobId}` } },
  );
}

/** Each file's object (head), refused when missing or when its URL is not the store's own address of it. */
async function objectsOf(objects: ObjectStore, refs: FileToImport[]): Promise<Array<ObjectInfo | null>> {
  const heads = await Promise.all(refs.map((ref) => objects.head(ref.key)));
  const missing = heads.findIndex((head) => head === null);
  if (missing >= 0) {
    throw new AppError("validation_failed", `files.${missing}: no uploaded object "${refs[missing]?.key}".`, {
      fields: [{ field: `files.${missing}`, location: "body", message: "not found in storage" }],
    });
  }
  // A URL names an object of our store only at the store's own address: a URL on another
  // host must not import the local object that happens to sit at its path.
  const foreign = refs.findIndex((ref, i) => ref.url !== undefined && !sameObjectUrl(ref.url, heads[i]?.url ?? ""));
  if (foreign >= 0) {
    const message = "is not this deployment's storage URL of the object (use the url the upload returned, or the key)";
    throw new AppError("validation_failed", `files.${foreign}.url ${message}.`, {
      fields: [{ field: `files.${foreign}.url`, location: "body", message }],
    });
  }
  return heads;
}

/** The files' SHA-256 (null where not known in time), refusing the same content twice. */
async function distinctContentHashes(
  runtime: Runtime,
  db: Database,
  objects: ObjectStore,
  refs: FileToImport[],
  heads: Array<ObjectInfo | null>,
): Promise<Array<string | null>> {
  // Hashes recorded at upload, or streamed here within the budget.
  const budget = startBudget({ maxDurationMs: runtime.config.jobs.maxDurationMs, marginMs: runtime.config.jobs.deadlineMarginMs });
  let hashes: Array<string | null>;
  try {
    hashes = await contentHashes(
      { db, objects, budgetBytes: runtime.config.importHashBudgetBytes, signal: budget.signal },
      refs.map((ref, i) => ({ key: ref.key, size: heads[i]?.size ?? 0, etag: heads[i]?.etag ?? "", sha256: ref.sha256 ?? null })),
    );
  } finally {
    budget.dispose();
  }
  const twins = duplicateContentError(refs.map((ref) => ref.name), hashes);
  if (twins) throw twins;
  return hashes;
}

/** The import job, its `import_files` rows written in the job's own transaction; its id. */
async function createImportJob(
  runtime: Runtime,
  settings: ImportSettings,
  storeId: number | null,
  files: JobFile[],
  hashes: Array<string | null>,
  correlationId: string,
): Promise<string> {
  const engine = await runtime.engine();
  const job = await engine.createJob(
    IMPORT_KIND,
    {
      file_type: settings.file_type,
      files,
      store_id: storeId,
      lenient_amounts: settings.lenient_amounts,
      dry_run: settings.dry_run,
      reconcile: settings.reconcile,
      callback_url: settings.callback_url,
    },
    correlationId,
    {
      onCreated: async (tx, created) => {
        await tx.insert(importFiles).values(
          files.map((file) => ({
            id: file.id,
            jobId: created.id,
            position: file.position,
            fileType: settings.file_type,
            name: file.name,
            objectKey: file.key,
            size: file.size,
            // Known at create (recorded at upload, or hashed here); the planner hashes
            // every file on its read and writes what it found.
            sha256: hashes[file.position] ?? null,
          })),
        );
      },
    },
  );
  return job.id;
}

async function storeIdOf(db: Database, name: string | undefined): Promise<number | null> {
  return name ? (await resolveStore(db, name)).id : null;
}

/** The same origin and path (query and fragment aside: a download URL adds `?download=1`). */
function sameObjectUrl(given: string, stored: string): boolean {
  try {
    const a = new URL(given);
    const b = new URL(stored);
    return a.origin === b.origin && decodeURIComponent(a.pathname) === decodeURIComponent(b.pathname);
  } catch (error) {
    if (error instanceof TypeError || error instanceof URIError) return false;
    throw error;
  }
}

/** The object's key, given as such or as the store's URL of it. */
function keyOf(file: FileReference, index: number, keyOfUrl: (url: string) => string | null): string {
  const field = `files.${index}.${file.key !== undefined ? "key" : "url"}`;
  const refuse = (message: string) =>
    new AppError("validation_failed", `${field} ${message}.`, { fields: [{ field, location: "body", message }] });
  const key = file.key ?? keyOfUrl(file.url as string);
  if (key === null) throw refuse("is not a URL of this deployment's storage (use the url the upload returned, or the key)");
  try {
    return validateObjectKey(key);
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    throw refuse(error.message.replace(/\.$/, ""));
  }
}
