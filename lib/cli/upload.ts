/**
 * Files to object storage the way every client of dropflow sends them (README,
 * "Uploading files"): a client token for one new import key from POST /api/uploads
 * (asked through the API client, so a refused token is the same one line as anywhere
 * else), then the bytes straight to Vercel Blob with the SDK's client put(): never
 * through a function, whatever the size. Files above MULTIPART_ABOVE_BYTES go in
 * parts, streamed from disk: the SDK sends 8 MiB parts several at a time and retries
 * a failed part, so a big file neither sits in memory whole nor starts over after one
 * dropped connection.
 */
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { newImportKey } from "../storage/keys.js";
import { type DropflowApi, networkReason } from "./api-client.js";
import { CliError } from "./exit-codes.js";
import type { UploadDisplay } from "./progress.js";
import { bytes } from "./output.js";
import { ClientTokenAnswer, UploadSettings } from "./responses.js";

/**
 * Two of the SDK's 8 MiB parts. Lower than the server adapter's threshold (64 MiB,
 * lib/storage/blob.ts), which weighs a function's memory: here the concern is a network
 * between a seller's machine and Blob, where a part retried beats a whole file resent.
 */
export const MULTIPART_ABOVE_BYTES = 16 * 1024 * 1024;
/** Files uploaded at once (each multipart file also sends several parts at once). */
const PARALLEL_FILES = 3;

export interface LocalFile {
  path: string;
  /** The file's own name, what the import shows. */
  name: string;
  size: number;
}

/** What POST /api/imports takes for a file in object storage. */
export interface StoredFile {
  key: string;
  name: string;
}

/** Every file exists and is a regular file, checked before anything is sent. */
export async function localFiles(paths: readonly string[]): Promise<LocalFile[]> {
  const files: LocalFile[] = [];
  for (const filePath of paths) {
    let info;
    try {
      info = await stat(filePath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") throw new CliError("missing_file", `no such file: ${filePath}`);
      if (code === "EACCES") throw new CliError("missing_file", `cannot read ${filePath}: permission denied`);
      throw error;
    }
    if (!info.isFile()) throw new CliError("missing_file", `not a file: ${filePath}`);
    files.push({ path: filePath, name: path.basename(filePath), size: info.size });
  }
  return files;
}

/**
 * Where the bytes go: the Blob API the flag or VERCEL_BLOB_API_URL names, else the one
 * the deployment says (GET /api/uploads: its Blob stand-in under `npm run dev`, null for
 * Vercel Blob). A file larger than the deployment takes is refused here, before any byte
 * is sent, instead of by Blob after part of it was.
 */
export async function uploadTarget(api: DropflowApi, files: readonly LocalFile[], override: string | null): Promise<string | null> {
  const settings = await api.get("/api/uploads", UploadSettings);
  for (const file of files) {
    if (file.size > settings.max_upload_bytes) {
      throw new CliError(
        "file_too_large",
        `${file.path} is ${bytes(file.size)}; ${api.baseUrl} takes files of at most ${bytes(settings.max_upload_bytes)} (DROPFLOW_MAX_UPLOAD_BYTES)`,
      );
    }
  }
  return override ?? settings.blob_api_url;
}

/** The content type a token allows (lib/imports/uploads.ts); the import sniffs every file whatever it says. */
function contentTypeOf(name: string): string {
  const extension = path.extname(name).toLowerCase();
  if (extension === ".tsv") return "text/tab-separated-values";
  if (extension === ".txt") return "text/plain";
  if (extension === ".xlsx") return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
  return "text/csv";
}

/**
 * Uploads `files` (PARALLEL_FILES at a time) and answers their keys in the order given:
 * the order of an import's files decides which version of an order wins.
 */
export async function uploadFiles(
  api: DropflowApi,
  files: readonly LocalFile[],
  display: UploadDisplay,
  blobApiUrl: string | null,
): Promise<StoredFile[]> {
  // Loaded when needed: only an import uploads, and the SDK brings its own undici.
  const [{ put }, { BlobError }] = await Promise.all([import("@vercel/blob/client"), import("@vercel/blob")]);
  const stored: StoredFile[] = new Array<StoredFile>(files.length);
  // The first failure stops the other files' uploads (their parts would go on sending otherwise).
  const failed = new AbortController();

  const uploadOne = async (file: LocalFile, index: number) => {
    const key = newImportKey(file.name);
    const multipart = file.size > MULTIPART_ABOVE_BYTES;
    const { clientToken } = await api.post(
      "/api/uploads",
      {
        type: "blob.generate-client-token",
        payload: { pathname: key, clientPayload: JSON.stringify({ name: file.name }), multipart },
      },
      ClientTokenAnswer,
    );
    try {
      await put(key, multipart ? createReadStream(file.path) : await readFile(file.path), {
        access: "private",
        token: clientToken,
        contentType: contentTypeOf(file.name),
        multipart,
        abortSignal: failed.signal,
        onUploadProgress: ({ loaded }) => display.progress(index, loaded),
      });
    } catch (error) {
      if (failed.signal.aborted) return; // stopped for another file's failure, which is reported
      if (!(error instanceof BlobError) && !(error instanceof TypeError)) throw error;
      // A BlobError says what Blob refused; a TypeError is fetch's "fetch failed", whose cause says why.
      const reason = error instanceof BlobError ? error.message : networkReason(error);
      throw new CliError("upload_failed", `uploading ${file.path} to ${blobApiUrl ?? "Vercel Blob"} failed: ${reason}`);
    }
    display.done(index);
    stored[index] = { key, name: file.name };
  };

  let next = 0;
  const lane = async () => {
    while (next < files.length && !failed.signal.aborted) {
      const index = next++;
      try {
        await uploadOne(files[index] as LocalFile, index);
      } catch (error) {
        failed.abort();
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_FILES, files.length) }, lane));
  return stored;
}
