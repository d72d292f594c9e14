/**
 * The ObjectStore on Vercel Blob, through the real `@vercel/blob` SDK: in production
 * against Vercel, locally against the stand-in (dev/blob), which the SDK reaches through
 * its own VERCEL_BLOB_API_URL setting (set by lib/config.ts, applyBlobSdkSettings).
 *
 * - Access is always PRIVATE: the files hold buyer data. Nothing is reachable without
 *   the read-write token.
 * - The token is passed on every call. Without it the SDK first tries OIDC
 *   (VERCEL_OIDC_TOKEN + BLOB_STORE_ID win over the token, or a network refresh when
 *   .vercel/project.json exists): a different store than the one configured.
 * - Retries are ours and bounded (the SDK's are turned off, see applyBlobSdkSettings):
 *   network failures, 5xx, 429 and "unknown" answers are tried `attempts` times with
 *   jittered exponential backoff. A stream body cannot be sent twice, so a put of a
 *   stream is tried once.
 *
 * Reads (`reads`), the one place where production and the stand-in differ:
 * - "sdk-get" (the default against Vercel's API): the SDK's own `get()`, with a `Range`
 *   header. That is how the SDK authenticates a private read: a GET of
 *   `https://<store id>.private.blob.vercel-storage.com/<key>` carrying
 *   `Authorization: Bearer <read-write token>`. Using get() itself keeps us on whatever
 *   the SDK does for private blobs (a beta feature) as it changes. get() refuses any
 *   host but `*.blob.vercel-storage.com`, so it cannot reach the stand-in.
 * - "blob-url" (the default against any other API URL, i.e. the stand-in): head() for
 *   the blob's `url` (as the store itself reports it), then a plain fetch of that URL
 *   with the same two headers get() sends. The token only goes to the API's own origin
 *   or to `*.blob.vercel-storage.com`. The url is remembered per key, so a chunk
 *   worker's reads cost one head() per key and process.
 * The alternative, a global undici dispatcher that rewrites *.blob.vercel-storage.com
 * to the stand-in (docs/stand-ins.md), would redirect every fetch of the process, and
 * it is not a setting of the SDK's; the test suite uses exactly that to run the
 * production path ("sdk-get") against the stand-in too.
 * Either way the answer is checked: a 206 must carry the requested Content-Range; a
 * server that ignores Range (200, whole object) is cut to the range here; 416 (start at
 * or past the end) reads as empty.
 */
import type * as BlobSdk from "@vercel/blob";
import type { PutBlobResult } from "@vercel/blob";
import { currentBlobSdkApiUrl } from "../config.js";
import { logger } from "../log/index.js";
import {
  InvalidRangeError,
  ObjectExistsError,
  ObjectNotFoundError,
  StorageError,
  StorageRefusedError,
  StorageUnavailableError,
} from "./errors.js";
import { validateKeyPrefix, validateObjectKey } from "./keys.js";
import type {
  ListOptions,
  ListPage,
  ObjectBody,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  PutResult,
  ReadOptions,
} from "./types.js";

type Sdk = typeof BlobSdk;

export type BlobReadMode = "sdk-get" | "blob-url";

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 4_000 };
/** From this size up, a put goes in parts unless told otherwise. */
export const DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024;
/** Keys per delete request. */
const DELETE_BATCH = 500;
/** Blob URLs remembered for "blob-url" reads. */
const URL_CACHE_LIMIT = 1_000;
const VERCEL_BLOB_HOST_SUFFIX = ".blob.vercel-storage.com";

export interface BlobObjectStoreOptions {
  /** The store's read-write token (BLOB_READ_WRITE_TOKEN). */
  token: string;
  /** Null: Vercel's API. A URL: a Blob-compatible server (dev/blob). Must match applyBlobSdkSettings(). */
  apiUrl: string | null;
  /** How reads reach the bytes (see the top of this file). */
  reads?: BlobReadMode;
  retry?: Partial<RetryPolicy>;
  multipartThresholdBytes?: number;
}

const log = logger("storage");

let loading: Promise<Sdk> | undefined;
/** Loaded on first use: it brings its own undici, which routes that never store anything need not load. */
const loadSdk = () => {
  loading ??= import("@vercel/blob");
  return loading;
};

/** A read answered with a status worth retrying (5xx, 429) or cut short. */
class TransientReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransientReadError";
  }
}

interface RawRead {
  status: number;
  headers: Headers | null;
  body: ReadableStream<Uint8Array> | null;
}

interface OpenedRead {
  stream: ReadableStream<Uint8Array>;
  /** Bytes the stream must yield, when the answer said so. */
  expectedLength: number | null;
}

export function createBlobObjectStore(options: BlobObjectStoreOptions): ObjectStore {
  const { token, apiUrl } = options;
  const reads: BlobReadMode = options.reads ?? (apiUrl === null ? "sdk-get" : "blob-url");
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const multipartThreshold = options.multipartThresholdBytes ?? DEFAULT_MULTIPART_THRESHOLD;
  const apiOrigin = apiUrl === null ? null : new URL(apiUrl).origin;
  const blobUrls = new Map<string, string>();
  let warnedIgnoredRange = false;

  /** The SDK, after checking that its environment points where this store was told to. */
  async function sdk(): Promise<Sdk> {
    const pointedAt = currentBlobSdkApiUrl();
    if (pointedAt === undefined || pointedAt !== apiUrl) {
      throw new StorageRefusedError(
        `The Blob SDK is not set up for this store (it would talk to ${describeApi(pointedAt)}, ` +
          `the store is configured for ${describeApi(apiUrl)}); call applyBlobSdkSettings() first.`,
      );
    }
    return loadSdk();
  }

  async function withRetries<T>(
    operation: string,
    key: string,
    signal: AbortSignal | undefined,
    run: (sdk: Sdk, attempt: number) => Promise<T>,
    replayable = true,
  ): Promise<T> {
    const blob = await sdk();
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await run(blob, attempt);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        const delay = transientDelay(blob, error, attempt, policy);
        if (delay === null) throw toStorageError(blob, error, key);
        if (!replayable || attempt >= policy.attempts) {
          throw new StorageUnavailableError(
            `Blob storage failed ${operation} after ${attempt} attempt${attempt === 1 ? "" : "s"}: ${messageOf(error)}`,
            { cause: error },
          );
        }
        log.warn("blob storage call failed, retrying", {
          operation,
          key,
          attempt,
          retry_in_ms: delay,
          error: messageOf(error),
        });
        await sleep(delay, signal);
      }
    }
  }

  function rememberUrl(key: string, url: string): void {
    blobUrls.delete(key);
    blobUrls.set(key, url);
    if (blobUrls.size > URL_CACHE_LIMIT) blobUrls.delete(blobUrls.keys().next().value as string);
  }

  /** Only where the token belongs: the configured API's origin, or Vercel's blob hosts. */
  function assertTrustedUrl(url: string): void {
    const parsed = new URL(url);
    const vercel = parsed.protocol === "https:" && parsed.hostname.endsWith(VERCEL_BLOB_HOST_SUFFIX);
    if (!vercel && parsed.origin !== apiOrigin) {
      throw new StorageRefusedError(
        `The Blob API reported a blob URL on ${parsed.origin}, neither its own origin nor Vercel Blob; ` +
          "the token is not sent there.",
      );
    }
  }

  async function viaSdkGet(blob: Sdk, key: string, range: string | null, signal?: AbortSignal): Promise<RawRead> {
    try {
      const result = await blob.get(key, {
        access: "private",
        token,
        ...(range ? { headers: { range } } : {}),
        ...(signal ? { abortSignal: signal } : {}),
      });
      if (result === null) return { status: 404, headers: null, body: null };
      // get() reports every 2xx as 200; a partial answer is told apart by its Content-Range.
      const status = result.headers.get("content-range") ? 206 : result.statusCode;
      return { status, headers: result.headers, body: result.stream };
    } catch (error) {
      // get() turns any other non-2xx answer into this message, its only trace of the status.
      const match = error instanceof blob.BlobError ? /Failed to fetch blob: (\d{3})/.exec(error.message) : null;
      if (match) return { status: Number(match[1]), headers: null, body: null };
      throw error;
    }
  }

  async function viaBlobUrl(blob: Sdk, key: string, range: string | null, signal?: AbortSignal): Promise<RawRead> {
    let url = blobUrls.get(key);
    if (url === undefined) {
      const info = await headOrNull(blob, key, signal);
      if (info === null) return { status: 404, headers: null, body: null };
      url = info.url;
      rememberUrl(key, url);
    }
    assertTrustedUrl(url);
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (range) headers.range = range;
    const response = await fetch(url, { headers, ...(signal ? { signal } : {}) });
    if (response.status === 404) blobUrls.delete(key);
    return { status: response.status, headers: response.headers, body: response.body };
  }

  async function headOrNull(blob: Sdk, key: string, signal?: AbortSignal) {
    try {
      return await blob.head(key, { token, ...(signal ? { abortSignal: signal } : {}) });
    } catch (error) {
      if (error instanceof blob.BlobNotFoundError) return null;
      throw error;
    }
  }

  async function open(
    blob: Sdk,
    key: string,
    range: { start: number; end: number | null } | null,
    signal?: AbortSignal,
  ): Promise<OpenedRead> {
    const header = range ? `bytes=${range.start}-${range.end ?? ""}` : null;
    const raw = await (reads === "sdk-get" ? viaSdkGet : viaBlobUrl)(blob, key, header, signal);
    const discard = () => raw.body?.cancel().catch((error: unknown) => log.debug("discarding a body failed", { err: error }));
    if (raw.status === 404) {
      await discard();
      throw new ObjectNotFoundError(key);
    }
    if (raw.status === 416) {
      // The range starts at or past the end: nothing to read, as with a file.
      await discard();
      return { stream: emptyStream(), expectedLength: 0 };
    }
    if (raw.status === 401 || raw.status === 403) {
      await discard();
      throw new StorageRefusedError(
        `Blob storage refused to read ${JSON.stringify(key)} (${raw.status}): check BLOB_READ_WRITE_TOKEN.`,
      );
    }
    if (raw.status === 429 || raw.status >= 500) {
      await discard();
      throw new TransientReadError(`reading ${JSON.stringify(key)} answered ${raw.status}`);
    }
    if ((raw.status !== 200 && raw.status !== 206) || raw.body === null) {
      await discard();
      throw new StorageError("internal", `Blob storage answered ${raw.status} to a read of ${JSON.stringify(key)}.`);
    }
    const contentRange = parseContentRange(raw.headers?.get("content-range") ?? null);
    if (range === null) {
      const length = raw.headers?.get("content-length");
      return { stream: raw.body, expectedLength: length ? Number(length) : null };
    }
    if (contentRange) {
      if (contentRange.start !== range.start || (range.end !== null && contentRange.end > range.end)) {
        await discard();
        throw new StorageError(
          "internal",
          `Blob storage answered bytes ${contentRange.start}-${contentRange.end} ` +
            `to a request for ${header} of ${JSON.stringify(key)}.`,
        );
      }
      return { stream: raw.body, expectedLength: contentRange.end - contentRange.start + 1 };
    }
    // A 200 with the whole object: the server ignored Range, as HTTP allows. Cut it here.
    if (!warnedIgnoredRange) {
      warnedIgnoredRange = true;
      log.warn("blob storage ignored a Range header; reading whole objects and cutting them", { key });
    }
    return {
      stream: sliceStream(raw.body, range.start, range.end === null ? null : range.end - range.start + 1),
      expectedLength: null,
    };
  }

  function checkRange(start: number | undefined, end: number | undefined): { start: number; end: number | null } | null {
    if (start === undefined && end === undefined) return null;
    const from = start ?? 0;
    if (!Number.isSafeInteger(from) || from < 0) {
      throw new InvalidRangeError(`A range must start at an integer ≥ 0 (got ${from}).`);
    }
    if (end !== undefined && (!Number.isSafeInteger(end) || end < from)) {
      throw new InvalidRangeError(`A range must end at an integer ≥ its start ${from} (got ${end}).`);
    }
    return { start: from, end: end ?? null };
  }

  const store: ObjectStore = {
    async put(key: string, body: ObjectBody, options: PutOptions): Promise<PutResult> {
      validateObjectKey(key);
      const size = typeof body === "string" ? Buffer.byteLength(body) : Buffer.isBuffer(body) ? body.length : null;
      const multipart = options.multipart ?? (size === null || size >= multipartThreshold);
      const overwrite = options.overwrite ?? false;
      const { signal } = options;
      return withRetries(
        "put",
        key,
        signal,
        async (blob, attempt) => {
          let result: PutBlobResult;
          try {
            result = await blob.put(key, body, {
              access: "private",
              token,
              contentType: options.contentType,
              addRandomSuffix: false,
              allowOverwrite: overwrite,
              multipart,
              ...(signal ? { abortSignal: signal } : {}),
            });
          } catch (error) {
            // A retry after a failure that came after the store had written: the key is
            // new (random) and ours, so an object of our size there is our own write.
            if (attempt > 1 && !overwrite && size !== null && isExistsError(blob, error)) {
              const info = await headOrNull(blob, key, signal);
              if (info && info.size === size) return { key, etag: info.etag, contentType: info.contentType };
            }
            throw error;
          }
          if (result.pathname !== key) {
            const stored = JSON.stringify(result.pathname);
            throw new StorageError("internal", `Blob storage stored ${JSON.stringify(key)} as ${stored}.`);
          }
          rememberUrl(key, result.url);
          return { key, etag: result.etag, contentType: result.contentType };
        },
        size !== null,
      );
    },

    async head(key, options = {}) {
      validateObjectKey(key);
      return withRetries("head", key, options.signal, async (blob): Promise<ObjectInfo | null> => {
        const info = await headOrNull(blob, key, options.signal);
        if (info === null) return null;
        rememberUrl(key, info.url);
        const { pathname, size, etag, contentType, uploadedAt, url } = info;
        return { key: pathname, size, etag, contentType, uploadedAt, url };
      });
    },

    async readRange(key, start, endInclusive, options = {}) {
      validateObjectKey(key);
      const range = checkRange(start, endInclusive);
      if (range === null || range.end === null) throw new InvalidRangeError("readRange needs a start and an end.");
      const limit = range.end - range.start + 1;
      return withRetries("readRange", key, options.signal, async (blob) => {
        const opened = await open(blob, key, range, options.signal);
        const bytes = await collect(opened.stream, limit);
        if (opened.expectedLength !== null && bytes.length !== opened.expectedLength) {
          throw new TransientReadError(`reading ${JSON.stringify(key)} gave ${bytes.length} of ${opened.expectedLength} bytes`);
        }
        return bytes;
      });
    },

    async read(key, options: ReadOptions = {}) {
      validateObjectKey(key);
      const range = checkRange(options.start, options.end);
      return withRetries("read", key, options.signal, async (blob) => (await open(blob, key, range, options.signal)).stream);
    },

    async list(prefix, options: ListOptions = {}): Promise<ListPage> {
      validateKeyPrefix(prefix);
      const limit = options.limit ?? 1000;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new StorageError("bad_request", `A list limit must be an integer from 1 to 1000 (got ${limit}).`);
      }
      return withRetries("list", prefix, options.signal, async (blob) => {
        const page = await blob.list({
          token,
          limit,
          ...(prefix ? { prefix } : {}),
          ...(options.cursor ? { cursor: options.cursor } : {}),
          ...(options.signal ? { abortSignal: options.signal } : {}),
        });
        return {
          objects: page.blobs.map(({ pathname, size, etag, uploadedAt }) => ({ key: pathname, size, etag, uploadedAt })),
          cursor: page.hasMore && page.cursor ? page.cursor : null,
        };
      });
    },

    async delete(keys, options = {}) {
      const all = [...new Set(typeof keys === "string" ? [keys] : keys)];
      for (const key of all) validateObjectKey(key);
      for (let i = 0; i < all.length; i += DELETE_BATCH) {
        const batch = all.slice(i, i + DELETE_BATCH);
        await withRetries("delete", batch[0] as string, options.signal, (blob) =>
          blob.del(batch, { token, ...(options.signal ? { abortSignal: options.signal } : {}) }),
        );
        for (const key of batch) blobUrls.delete(key);
      }
    },

    keyOfUrl(url) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch (error) {
        if (error instanceof TypeError) return null;
        throw error;
      }
      // Vercel Blob serves an object at https://<store>.<access>.blob.vercel-storage.com/<key>;
      // the stand-in at <its origin>/blobs/<key>. head()'s url then tells the exact host.
      let path: string;
      if (parsed.protocol === "https:" && parsed.hostname.endsWith(VERCEL_BLOB_HOST_SUFFIX)) path = parsed.pathname.slice(1);
      else if (apiOrigin !== null && parsed.origin === apiOrigin && parsed.pathname.startsWith("/blobs/")) {
        path = parsed.pathname.slice("/blobs/".length);
      } else return null;
      try {
        return decodeURIComponent(path);
      } catch (error) {
        if (error instanceof URIError) return null;
        throw error;
      }
    },

    async ping() {
      // One attempt: health answers within its own timeout, and says "down" rather than wait.
      const blob = await sdk();
      try {
        await blob.list({ token, limit: 1, prefix: "dropflow-health-probe/" });
      } catch (error) {
        throw toStorageError(blob, error, "");
      }
    },
  };
  return store;
}

// ── errors and retries ──────────────────────────────────────────────────────

function isExistsError(blob: Sdk, error: unknown): boolean {
  // The API answers bad_request "This blob already exists" (measured against the SDK; docs/stand-ins.md).
  return error instanceof blob.BlobError && /already exists/i.test(error.message);
}

/** Network failures as undici (the SDK's and Node's) reports them. */
function isNetworkError(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  if (error.message === "fetch failed" || error.message === "terminated") return true;
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EAI_AGAIN|UND_ERR_)/.test(code);
}

/** How long to wait before trying again, or null when another try cannot help. */
function transientDelay(blob: Sdk, error: unknown, attempt: number, policy: RetryPolicy): number | null {
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.round(backoff * (0.5 + Math.random() / 2));
  if (error instanceof blob.BlobServiceRateLimited) {
    return error.retryAfter > 0 ? Math.min(policy.maxDelayMs, error.retryAfter * 1000) : jittered;
  }
  if (
    error instanceof blob.BlobServiceNotAvailable ||
    error instanceof blob.BlobUnknownError ||
    error instanceof TransientReadError ||
    isNetworkError(error)
  ) {
    return jittered;
  }
  return null;
}

function toStorageError(blob: Sdk, error: unknown, key: string): unknown {
  if (error instanceof StorageError) return error;
  if (error instanceof blob.BlobRequestAbortedError || (error instanceof Error && error.name === "AbortError")) return error;
  if (error instanceof blob.BlobNotFoundError) return new ObjectNotFoundError(key);
  if (isExistsError(blob, error) || error instanceof blob.BlobPreconditionFailedError) {
    return new ObjectExistsError(key, { cause: error });
  }
  if (
    error instanceof blob.BlobAccessError ||
    error instanceof blob.BlobStoreNotFoundError ||
    error instanceof blob.BlobStoreSuspendedError
  ) {
    return new StorageRefusedError(`Blob storage refused the request: ${messageOf(error)} Check BLOB_READ_WRITE_TOKEN.`, {
      cause: error,
    });
  }
  if (error instanceof blob.BlobError) return new StorageError("internal", messageOf(error), { cause: error });
  return error;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describeApi(apiUrl: string | null | undefined): string {
  if (apiUrl === undefined) return "nothing (no settings applied)";
  return apiUrl === null ? "Vercel's API" : apiUrl;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

// ── streams ─────────────────────────────────────────────────────────────────

/** `bytes a-b/total` (or `a-b/*`); null when absent or unparseable. */
function parseContentRange(value: string | null): { start: number; end: number } | null {
  const match = value ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/i.exec(value.trim()) : null;
  if (!match) return null;
  return { start: Number(match[1]), end: Number(match[2]) };
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.close();
    },
  });
}

/** Bytes `skip` to `skip + take` of `source` (to its end when take is null). */
function sliceStream(source: ReadableStream<Uint8Array>, skip: number, take: number | null): ReadableStream<Uint8Array> {
  const stop = take === null ? Number.POSITIVE_INFINITY : skip + take;
  let position = 0;
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const from = Math.max(0, skip - position);
        const to = Math.min(chunk.length, stop - position);
        position += chunk.length;
        if (to > from) controller.enqueue(chunk.subarray(from, to));
        // Enough: closing here cancels the rest of the download.
        if (position >= stop) controller.terminate();
      },
    }),
  );
}

/** The whole stream as one buffer, refusing more than `limit` bytes. */
async function collect(stream: ReadableStream<Uint8Array>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel();
        throw new StorageError("internal", `Blob storage sent more than the ${limit} bytes asked for.`);
      }
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.length));
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks, size);
}
