/**
 * ObjectStore.put on Vercel Blob: private, under the exact key (no random suffix), in
 * parts from a size up. A Buffer or string body is retried like any call; a stream
 * body cannot be sent twice, so it is tried once.
 */
import type { PutBlobResult } from "@vercel/blob";
import { isExistsError, type WithRetries } from "./blob-retries.js";
import { headOrNull, type Sdk } from "./blob-sdk.js";
import type { BlobUrlCache } from "./blob-urls.js";
import { StorageError } from "./errors.js";
import { validateObjectKey } from "./keys.js";
import type { ObjectBody, ObjectStore, PutOptions, PutResult } from "./types.js";

export interface BlobPutSettings {
  token: string;
  withRetries: WithRetries;
  urls: BlobUrlCache;
  /** From this size up, a put goes in parts unless told otherwise. */
  multipartThreshold: number;
}

export function blobPut({ token, withRetries, urls, multipartThreshold }: BlobPutSettings): ObjectStore["put"] {
  return async (key: string, body: ObjectBody, options: PutOptions): Promise<PutResult> => {
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
          if (attempt > 1 && !overwrite && size !== null && isExistsError(blob, error)) {
            const ours = await ownEarlierWrite(blob, token, key, size, signal);
            if (ours) return ours;
          }
          throw error;
        }
        if (result.pathname !== key) {
          const stored = JSON.stringify(result.pathname);
          throw new StorageError("internal", `Blob storage stored ${JSON.stringify(key)} as ${stored}.`);
        }
        urls.remember(key, result.url);
        return { key, etag: result.etag, contentType: result.contentType };
      },
      size !== null,
    );
  };
}

/**
 * After a retry found the key taken: a failure that came after the store had written.
 * The key is new (random) and ours, so an object of our size there is our own write.
 */
async function ownEarlierWrite(
  blob: Sdk,
  token: string,
  key: string,
  size: number,
  signal: AbortSignal | undefined,
): Promise<PutResult | null> {
  const info = await headOrNull(blob, token, key, signal);
  if (info && info.size === size) return { key, etag: info.etag, contentType: info.contentType };
  return null;
}
