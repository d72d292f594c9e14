/**
 * ObjectStore.put on Vercel Blob: private, under the exact key (no random suffix), in
 * parts from a size up. A Buffer or string body is retried like any call; a stream
 * body cannot be sent twice, so it is tried once.
 */
import type { Part, PutBlobResult } from "@vercel/blob";
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

/** A part of a bounded multipart upload (Blob's parts are at least 5 MiB but the last). */
const PART_BYTES = 8 * 1024 * 1024;

export function blobPut({ token, withRetries, urls, multipartThreshold }: BlobPutSettings): ObjectStore["put"] {
  return async (key: string, body: ObjectBody, options: PutOptions): Promise<PutResult> => {
    validateObjectKey(key);
    if (options.partsInFlight !== undefined && body instanceof ReadableStream) {
      // A stream is sent once (no retries), as in the SDK's own multipart put.
      return withRetries("put", key, options.signal, (blob) => boundedMultipartPut(blob, token, urls, key, body, options), false);
    }
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

/** A stream uploaded in PART_BYTES parts, at most `options.partsInFlight` of them held and sending at once. */
async function boundedMultipartPut(
  blob: Sdk,
  token: string,
  urls: BlobUrlCache,
  key: string,
  body: ReadableStream<Uint8Array>,
  options: PutOptions,
): Promise<PutResult> {
  const limit = Math.max(1, options.partsInFlight ?? 1);
  const uploader = await blob.createMultipartUploader(key, {
    access: "private",
    token,
    contentType: options.contentType,
    addRandomSuffix: false,
    allowOverwrite: options.overwrite ?? false,
    ...(options.signal ? { abortSignal: options.signal } : {}),
  });
  const parts: Part[] = [];
  const sending = new Set<Promise<void>>();
  let failure: { error: unknown } | null = null;
  let partNumber = 0;
  for await (const part of partsOf(body, PART_BYTES)) {
    if (failure) break;
    const number = ++partNumber;
    const sent: Promise<void> = uploader.uploadPart(number, part).then(
      (uploaded) => {
        parts.push(uploaded);
      },
      (error: unknown) => {
        // Kept, and thrown once the parts in flight have settled.
        failure ??= { error };
      },
    );
    sending.add(sent);
    void sent.finally(() => sending.delete(sent));
    if (sending.size >= limit) await Promise.race(sending);
  }
  await Promise.all(sending);
  if (failure) throw (failure as { error: unknown }).error;
  if (parts.length === 0) throw new StorageError("internal", `A bounded multipart put of ${JSON.stringify(key)} had no bytes.`);
  const result = await uploader.complete(parts.sort((a, b) => a.partNumber - b.partNumber));
  urls.remember(key, result.url);
  return { key, etag: result.etag, contentType: result.contentType };
}

/** The stream cut into `size`-byte Buffers (the last may be shorter), read only as they are asked for. */
async function* partsOf(stream: ReadableStream<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    held.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    length += chunk.byteLength;
    while (length >= size) {
      const all = Buffer.concat(held, length);
      yield all.subarray(0, size);
      held = length > size ? [all.subarray(size)] : [];
      length -= size;
    }
  }
  if (length > 0) yield Buffer.concat(held, length);
}
