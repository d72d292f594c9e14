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
 * - Retries are ours and bounded (blob-retries.ts).
 * - Reads reach the bytes one of two ways (`reads`), the one place where production and
 *   the stand-in differ (blob-read-modes.ts); either way the answer is checked
 *   (blob-read.ts).
 *
 * This file assembles the port's methods; each lives with what it needs:
 * put in blob-put.ts, read and readRange in blob-read.ts, the rest below.
 */
import { blobPut } from "./blob-put.js";
import { type BlobReadMode, defaultReadMode } from "./blob-read-modes.js";
import { blobReads } from "./blob-read.js";
import { DEFAULT_RETRY, type RetryPolicy, toStorageError, type WithRetries, withRetriesOf } from "./blob-retries.js";
import { blobSdkFor, headOrNull } from "./blob-sdk.js";
import { BlobUrlCache, keyOfBlobUrl } from "./blob-urls.js";
import { StorageError } from "./errors.js";
import { validateKeyPrefix, validateObjectKey } from "./keys.js";
import type { ListOptions, ListPage, ObjectInfo, ObjectStore } from "./types.js";

export type { BlobReadMode } from "./blob-read-modes.js";
export { DEFAULT_RETRY, type RetryPolicy } from "./blob-retries.js";

/** From this size up, a put goes in parts unless told otherwise. */
export const DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024;
/** Keys per delete request. */
const DELETE_BATCH = 500;
/** Blob URLs remembered for "blob-url" reads. */
const URL_CACHE_LIMIT = 1_000;

export interface BlobObjectStoreOptions {
  /** The store's read-write token (BLOB_READ_WRITE_TOKEN). */
  token: string;
  /** Null: Vercel's API. A URL: a Blob-compatible server (dev/blob). Must match applyBlobSdkSettings(). */
  apiUrl: string | null;
  /** How reads reach the bytes (blob-read-modes.ts). */
  reads?: BlobReadMode;
  retry?: Partial<RetryPolicy>;
  multipartThresholdBytes?: number;
}

export function createBlobObjectStore(options: BlobObjectStoreOptions): ObjectStore {
  const { token, apiUrl } = options;
  const mode: BlobReadMode = options.reads ?? defaultReadMode(apiUrl);
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const multipartThreshold = options.multipartThresholdBytes ?? DEFAULT_MULTIPART_THRESHOLD;
  const apiOrigin = apiUrl === null ? null : new URL(apiUrl).origin;
  const urls = new BlobUrlCache(URL_CACHE_LIMIT);
  const withRetries = withRetriesOf(policy, () => blobSdkFor(apiUrl));
  const calls: BlobCalls = { token, withRetries, urls };
  const reads = blobReads({ token, apiOrigin, urls, mode, withRetries });
  return {
    put: blobPut({ token, withRetries, urls, multipartThreshold }),
    head: (key, headOptions = {}) => headObject(calls, key, headOptions.signal),
    readRange: reads.readRange,
    read: reads.read,
    list: (prefix, listOptions = {}) => listObjects(calls, prefix, listOptions),
    delete: (keys, deleteOptions = {}) => deleteObjects(calls, keys, deleteOptions.signal),
    keyOfUrl: (url) => keyOfBlobUrl(url, apiOrigin),
    ping: () => ping(token, apiUrl),
  };
}

/** What the calls of one store share. */
interface BlobCalls {
  token: string;
  withRetries: WithRetries;
  urls: BlobUrlCache;
}

async function headObject(
  { token, withRetries, urls }: BlobCalls,
  key: string,
  signal?: AbortSignal,
): Promise<ObjectInfo | null> {
  validateObjectKey(key);
  return withRetries("head", key, signal, async (blob): Promise<ObjectInfo | null> => {
    const info = await headOrNull(blob, token, key, signal);
    if (info === null) return null;
    urls.remember(key, info.url);
    const { pathname, size, etag, contentType, uploadedAt, url } = info;
    return { key: pathname, size, etag, contentType, uploadedAt, url };
  });
}

async function listObjects({ token, withRetries }: BlobCalls, prefix: string, options: ListOptions): Promise<ListPage> {
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
}

async function deleteObjects(
  { token, withRetries, urls }: BlobCalls,
  keys: string | readonly string[],
  signal?: AbortSignal,
): Promise<void> {
  const all = [...new Set(typeof keys === "string" ? [keys] : keys)];
  for (const key of all) validateObjectKey(key);
  for (let i = 0; i < all.length; i += DELETE_BATCH) {
    const batch = all.slice(i, i + DELETE_BATCH);
    await withRetries("delete", batch[0] as string, signal, (blob) =>
      blob.del(batch, { token, ...(signal ? { abortSignal: signal } : {}) }),
    );
    for (const key of batch) urls.forget(key);
  }
}

async function ping(token: string, apiUrl: string | null): Promise<void> {
  // One attempt: health answers within its own timeout, and says "down" rather than wait.
  const blob = await blobSdkFor(apiUrl);
  try {
    await blob.list({ token, limit: 1, prefix: "dropflow-health-probe/" });
  } catch (error) {
    throw toStorageError(blob, error, "");
  }
}
