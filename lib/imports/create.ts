/**
 * Creating an import (POST /api/imports), from either form of the request, through
 * one path: read and validate (multipart: refuse two parts of the same content) ->
 * check the callback URL -> Idempotency-Key claim -> (multipart: put the parts into
 * object storage) -> resolve the store, check every object exists (head) -> refuse the
 * same content twice (content.ts) -> create the job.
 *
 * - JSON: `{ kind, files: [{ key | url, name }], store?, lenient_amounts?, dry_run?,
 *   callback_url? }`, the files already in object storage (POST /api/uploads);
 * - multipart/form-data: the same fields as text parts, and one or more `files` parts
 *   of at most 4 MiB in all (a function's request body is capped at 4.5 MB; larger
 *   files go through client uploads). Each part is put under newImportKey(its name)
 *   and recorded in `uploads`, then imported exactly as if it had been named by key.
 *
 * Validation errors name the field (`kind`, `files.1`, `dry_run`, `callback_url`); the
 * same content twice is a 400 `duplicate_content` naming the later copy (`files.1`).
 */
import { sql } from "drizzle-orm";
import { z } from "zod";
import { type Database, queryRows } from "../db/client.js";
import { importFiles, uploads } from "../db/schema.js";
import { AppError } from "../errors.js";
import { fingerprint, withIdempotency } from "../http/idempotency.js";
import { json } from "../http/respond.js";
import { readJsonBody } from "../http/route.js";
import { startBudget } from "../jobs/budget.js";
import { uuidv7 } from "../jobs/ids.js";
import type { Runtime } from "../runtime.js";
import { newImportKey, validateObjectKey } from "../storage/keys.js";
import { parseInput } from "../validate.js";
import { checkCallbackUrl } from "../webhooks/callback-url.js";
import { contentHashes, duplicateContentError, sha256Hex } from "./content.js";
import { IMPORT_KIND } from "./job-params.js";

/** The files of one multipart request, in all. */
export const MULTIPART_MAX_BYTES = 4 * 1024 * 1024;
/** What a multipart body may carry besides its files: boundaries, part headers, the text fields. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
const MAX_FILES = 200;
const MAX_NAME_LENGTH = 255;
/** Parts put into object storage at once. */
const PUT_CONCURRENCY = 8;
export const CREATE_IMPORT_SCOPE = "POST /api/imports";

const FileRef = z
  .object({
    key: z.string().min(1).optional(),
    url: z.string().url().optional(),
    name: z.string().min(1).max(MAX_NAME_LENGTH),
  })
  .refine((file) => Boolean(file.key) !== Boolean(file.url), { message: "give exactly one of key or url" });

const blankAsUndefined = (value: unknown) => (typeof value === "string" && value.trim() === "" ? undefined : value);

const common = {
  kind: z.enum(["purchases", "settlements"]),
  store: z.preprocess(blankAsUndefined, z.string().trim().min(1).max(200).optional()),
  lenient_amounts: z.boolean().default(false),
  dry_run: z.boolean().default(false),
  callback_url: z.preprocess(blankAsUndefined, z.string().url().optional()),
};

const CreateImportJson = z.object({ ...common, files: z.array(FileRef).min(1).max(MAX_FILES) });

/** A form's checkbox or text: true/false, 1/0, on/off, yes/no; empty means "not given". */
const formBoolean = z.preprocess(
  (value) => {
    if (typeof value !== "string") return value;
    const text = value.trim().toLowerCase();
    if (text === "") return undefined;
    if (["true", "1", "on", "yes"].includes(text)) return true;
    if (["false", "0", "off", "no"].includes(text)) return false;
    return value;
  },
  z.boolean({ message: "must be true or false" }).default(false),
);

interface FormPart {
  name: string;
  contentType: string;
  bytes: Buffer;
}

const CreateImportForm = z.object({
  ...common,
  lenient_amounts: formBoolean,
  dry_run: formBoolean,
  files: z
    .array(z.custom<FormPart>((value) => value !== null && typeof value === "object", { message: "must be a file part" }))
    .min(1, { message: "give at least one files part" })
    .max(MAX_FILES),
});

/** What both forms come down to. */
interface ImportRequest {
  kind: "purchases" | "settlements";
  store?: string | undefined;
  lenient_amounts: boolean;
  dry_run: boolean;
  callback_url: string | null;
}

interface FileToImport {
  key: string;
  name: string;
  /** The URL the request named it by (`files[].url`), checked against the store's own. */
  url?: string;
  /** Known from the request's bytes (a multipart part). */
  sha256?: string;
}

/** POST /api/imports. */
export async function createImport(runtime: Runtime, request: Request, correlationId: string): Promise<Response> {
  const type = (request.headers.get("content-type") ?? "").toLowerCase();
  const multipart = type.startsWith("multipart/form-data");
  let input: ImportRequest;
  let fingerprintSource: unknown;
  let files: () => Promise<FileToImport[]>;
  if (multipart) {
    const form = await readImportForm(request);
    input = requestOf(form);
    const hashes = form.files.map((part) => sha256Hex(part.bytes));
    // Before anything is stored or claimed: the bytes are all here.
    const twins = duplicateContentError(form.files.map((part) => part.name), hashes);
    if (twins) throw twins;
    fingerprintSource = {
      form: "multipart",
      ...input,
      files: form.files.map((part, i) => ({ name: part.name, size: part.bytes.length, sha256: hashes[i] })),
    };
    files = () => storeParts(runtime, form.files, hashes);
  } else if (/^application\/([a-z.+-]*\+)?json\b/.test(type)) {
    const body = parseInput(CreateImportJson, await readJsonBody(request), "body");
    input = requestOf(body);
    const objects = runtime.objectStore();
    const refs = body.files.map((file, index) => ({
      key: keyOf(file, index, (url) => objects.keyOfUrl(url)),
      name: file.name,
      ...(file.url ? { url: file.url } : {}),
    }));
    const duplicate = refs.findIndex((ref, i) => refs.findIndex((other) => other.key === ref.key) !== i);
    if (duplicate >= 0) {
      throw new AppError("validation_failed", `files.${duplicate} names the same object as an earlier file.`, {
        fields: [{ field: `files.${duplicate}`, location: "body", message: "the same file twice in one import" }],
      });
    }
    fingerprintSource = { form: "json", ...input, files: refs };
    files = () => Promise.resolve(refs);
  } else {
    throw new AppError("unsupported_media_type", "The body must be JSON (application/json) or multipart/form-data.");
  }
  if (input.callback_url !== null) {
    input.callback_url = await checkCallbackUrl(input.callback_url, { production: runtime.config.production });
  }

  const { db } = await runtime.database();
  return withIdempotency({ db, request, scope: CREATE_IMPORT_SCOPE, fingerprint: fingerprint(fingerprintSource) }, async () => {
    // The store first: an unknown store refuses the request before any part is stored.
    const storeId = await resolveStore(db, input.store);
    return startImport(runtime, db, input, storeId, await files(), correlationId);
  });
}

function requestOf(body: Omit<ImportRequest, "callback_url"> & { callback_url?: string | undefined }): ImportRequest {
  return {
    kind: body.kind,
    store: body.store,
    lenient_amounts: body.lenient_amounts,
    dry_run: body.dry_run,
    callback_url: body.callback_url ?? null,
  };
}

async function startImport(
  runtime: Runtime,
  db: Database,
  input: ImportRequest,
  storeId: number | null,
  refs: FileToImport[],
  correlationId: string,
): Promise<Response> {
  const objects = runtime.objectStore();
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
  // The same content twice: hashes recorded at upload, or streamed here within the budget.
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
  const files = refs.map((ref, position) => ({
    id: uuidv7(),
    key: ref.key,
    name: ref.name,
    size: heads[position]?.size ?? 0,
    position,
  }));
  const engine = await runtime.engine();
  const job = await engine.createJob(
    IMPORT_KIND,
    {
      kind: input.kind,
      files,
      store_id: storeId,
      lenient_amounts: input.lenient_amounts,
      dry_run: input.dry_run,
      callback_url: input.callback_url,
    },
    correlationId,
    {
      onCreated: async (tx, created) => {
        await tx.insert(importFiles).values(
          files.map((file) => ({
            id: file.id,
            jobId: created.id,
            position: file.position,
            kind: input.kind,
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
  return json(
    {
      job_id: job.id,
      files: files.map(({ id, name, size, key }) => ({ id, name, size, key })),
      status_url: `/api/imports/${job.id}`,
    },
    { status: 202, headers: { location: `/api/imports/${job.id}` } },
  );
}

async function resolveStore(db: Database, name: string | undefined): Promise<number | null> {
  if (!name) return null;
  const [store] = await queryRows<{ id: number }>(db, sql`select id from stores where lower(name) = lower(${name})`);
  if (store) return store.id;
  const known = await queryRows<{ name: string }>(db, sql`select name from stores order by name`);
  throw new AppError(
    "validation_failed",
    `Unknown store "${name}". Known stores: ${known.map((s) => s.name).join(", ") || "none yet (a purchase import creates them)"}.`,
    { fields: [{ field: "store", location: "body", message: "unknown_store" }] },
  );
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
function keyOf(file: z.infer<typeof FileRef>, index: number, keyOfUrl: (url: string) => string | null): string {
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

// ── multipart ───────────────────────────────────────────────────────────────

const TEXT_FIELDS = ["kind", "store", "lenient_amounts", "dry_run", "callback_url"] as const;

function tooLarge(): AppError {
  return new AppError(
    "payload_too_large",
    `The files of a multipart import may total at most ${MULTIPART_MAX_BYTES} bytes (4 MiB); ` +
      "upload larger files through POST /api/uploads and import them by key.",
  );
}

function fieldProblem(field: string, message: string): AppError {
  return new AppError("validation_failed", `Invalid body: ${field}: ${message}`, {
    fields: [{ field, location: "body", message }],
  });
}

async function readImportForm(request: Request): Promise<z.output<typeof CreateImportForm>> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > MULTIPART_MAX_BYTES + MULTIPART_OVERHEAD_BYTES) throw tooLarge();
  let form: FormData;
  try {
    form = await request.formData();
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    throw new AppError("bad_request", `The multipart body could not be read: ${error.message}`);
  }
  const fields: Record<string, unknown> = {};
  for (const name of TEXT_FIELDS) {
    const values = form.getAll(name);
    if (values.length > 1) throw fieldProblem(name, "give it once");
    const value = values[0];
    if (value === undefined) continue;
    if (typeof value !== "string") throw fieldProblem(name, "must be a text field, not a file");
    fields[name] = value;
  }
  const parts = form.getAll("files");
  let total = 0;
  for (const part of parts) if (typeof part !== "string") total += part.size;
  if (total > MULTIPART_MAX_BYTES) throw tooLarge();
  fields.files = await Promise.all(
    parts.map(async (part, index): Promise<FormPart | string> => {
      if (typeof part === "string") return part; // refused by the schema, naming files.<index>
      const name = part.name && part.name !== "blob" ? part.name : `file-${index + 1}.csv`;
      if (name.length > MAX_NAME_LENGTH) throw fieldProblem(`files.${index}`, `its file name must be at most ${MAX_NAME_LENGTH} characters`);
      return { name, contentType: part.type || "text/csv", bytes: Buffer.from(await part.arrayBuffer()) };
    }),
  );
  return parseInput(CreateImportForm, fields, "body");
}

/** Puts each part under a new import key and records it (and its SHA-256) in `uploads`; in the parts' order. */
async function storeParts(runtime: Runtime, parts: FormPart[], hashes: string[]): Promise<FileToImport[]> {
  const objects = runtime.objectStore();
  const { db } = await runtime.database();
  const stored: FileToImport[] = new Array<FileToImport>(parts.length);
  for (let start = 0; start < parts.length; start += PUT_CONCURRENCY) {
    await Promise.all(
      parts.slice(start, start + PUT_CONCURRENCY).map(async (part, offset) => {
        const key = newImportKey(part.name);
        const sha256 = hashes[start + offset] as string;
        const put = await objects.put(key, part.bytes, { contentType: part.contentType });
        await db.insert(uploads).values({
          key,
          name: part.name,
          size: part.bytes.length,
          contentType: put.contentType,
          etag: put.etag,
          source: "form",
          sha256,
          uploadedAt: new Date(),
        });
        stored[start + offset] = { key, name: part.name, sha256 };
      }),
    );
  }
  return stored;
}
