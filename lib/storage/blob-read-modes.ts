/**
 * The two ways a read reaches the bytes, the one place where production and the stand-in
 * differ. Both give the answer as it came (blob-read.ts checks it):
 * - "sdk-get" (the default against Vercel's API): the SDK's own `get()`, with a `Range`
 *   header. That is how the SDK authenticates a private read: a GET of
 *   `https://<store id>.private.blob.vercel-storage.com/<key>` carrying
 *   `Authorization: Bearer <read-write token>`. Using get() itself keeps us on whatever
 *   the SDK does for private blobs (a beta feature) as it changes. get() refuses any
 *   host but `*.blob.vercel-storage.com`, so it cannot reach the stand-in.
 * - "blob-url" (the default against any other API URL, i.e. the stand-in): head() for
 *   the blob's `url` (as the store itself reports it), then a plain fetch of that URL
 *   with the same two headers get() sends. The token only goes to the API's own origin
 *   or to `*.blob.vercel-storage.com`. The url is remembered per key (BlobUrlCache).
 * The alternative, a global undici dispatcher that rewrites *.blob.vercel-storage.com
 * to the stand-in (docs/local-services.md), would redirect every fetch of the process, and
 * it is not a setting of the SDK's; the test suite uses exactly that to run the
 * production path ("sdk-get") against the stand-in too.
 */
import { headOrNull, type Sdk } from "./blob-sdk.js";
import { assertTrustedBlobUrl, type BlobUrlCache } from "./blob-urls.js";

export type BlobReadMode = "sdk-get" | "blob-url";

/** A read's answer, unchecked. */
export interface RawRead {
  status: number;
  headers: Headers | null;
  body: ReadableStream<Uint8Array> | null;
}

/** Asks for `key`, or for the part of it a `Range` header value names. */
export type RawReader = (blob: Sdk, key: string, range: string | null, signal?: AbortSignal) => Promise<RawRead>;

export interface RawReaderSettings {
  token: string;
  /** The configured API's origin; null for Vercel's API. */
  apiOrigin: string | null;
  urls: BlobUrlCache;
}

export function defaultReadMode(apiUrl: string | null): BlobReadMode {
  return apiUrl === null ? "sdk-get" : "blob-url";
}

export function rawReader(mode: BlobReadMode, settings: RawReaderSettings): RawReader {
  if (mode === "sdk-get") return (blob, key, range, signal) => viaSdkGet(blob, settings.token, key, range, signal);
  return (blob, key, range, signal) => viaBlobUrl(blob, settings, key, range, signal);
}

async function viaSdkGet(blob: Sdk, token: string, key: string, range: string | null, signal?: AbortSignal): Promise<RawRead> {
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

async function viaBlobUrl(
  blob: Sdk,
  { token, apiOrigin, urls }: RawReaderSettings,
  key: string,
  range: string | null,
  signal?: AbortSignal,
): Promise<RawRead> {
  let url = urls.get(key);
  if (url === undefined) {
    const info = await headOrNull(blob, token, key, signal);
    if (info === null) return { status: 404, headers: null, body: null };
    url = info.url;
    urls.remember(key, url);
  }
  assertTrustedBlobUrl(url, apiOrigin);
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (range) headers.range = range;
  const response = await fetch(url, { headers, ...(signal ? { signal } : {}) });
  if (response.status === 404) urls.forget(key);
  return { status: response.status, headers: response.headers, body: response.body };
}
