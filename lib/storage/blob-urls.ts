/**
 * Blob URLs, where a store serves its objects: Vercel Blob at
 * https://<store>.<access>.blob.vercel-storage.com/<key>, the stand-in (dev/blob) at
 * <its origin>/blobs/<key>. Which of them may receive the read-write token, which key a
 * URL names, and the URLs remembered for "blob-url" reads.
 */
import { StorageRefusedError } from "./errors.js";

const VERCEL_BLOB_HOST_SUFFIX = ".blob.vercel-storage.com";
const STAND_IN_PATH_PREFIX = "/blobs/";

function isVercelBlobUrl(url: URL): boolean {
  return url.protocol === "https:" && url.hostname.endsWith(VERCEL_BLOB_HOST_SUFFIX);
}

/** Only where the token belongs: the configured API's origin, or Vercel's blob hosts. */
export function assertTrustedBlobUrl(url: string, apiOrigin: string | null): void {
  const parsed = new URL(url);
  if (!isVercelBlobUrl(parsed) && parsed.origin !== apiOrigin) {
    throw new StorageRefusedError(
      `The Blob API reported a blob URL on ${parsed.origin}, neither its own origin nor Vercel Blob; ` +
        "the token is not sent there.",
    );
  }
}

/** The key a URL of this store names (ObjectStore.keyOfUrl); head()'s url then tells the exact host. */
export function keyOfBlobUrl(url: string, apiOrigin: string | null): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    if (error instanceof TypeError) return null;
    throw error;
  }
  let path: string;
  if (isVercelBlobUrl(parsed)) path = parsed.pathname.slice(1);
  else if (apiOrigin !== null && parsed.origin === apiOrigin && parsed.pathname.startsWith(STAND_IN_PATH_PREFIX)) {
    path = parsed.pathname.slice(STAND_IN_PATH_PREFIX.length);
  } else return null;
  try {
    return decodeURIComponent(path);
  } catch (error) {
    if (error instanceof URIError) return null;
    throw error;
  }
}

/**
 * Blob URLs by key, the least recently remembered dropped first past `limit`: a chunk
 * worker's "blob-url" reads then cost one head() per key and process.
 */
export class BlobUrlCache {
  private readonly urls = new Map<string, string>();

  constructor(private readonly limit: number) {}

  get(key: string): string | undefined {
    return this.urls.get(key);
  }

  remember(key: string, url: string): void {
    this.urls.delete(key);
    this.urls.set(key, url);
    if (this.urls.size > this.limit) this.urls.delete(this.urls.keys().next().value as string);
  }

  forget(key: string): void {
    this.urls.delete(key);
  }
}
