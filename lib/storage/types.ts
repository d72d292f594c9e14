/**
 * The object-storage port: where uploaded files (buyer data) live. One
 * adapter, lib/storage/blob.ts, talks to Vercel Blob through the real SDK, in
 * production and against the local stand-in (dev/blob) alike.
 *
 * Every key goes through validateObjectKey() (keys.ts) before any request is made.
 */

export interface ObjectInfo {
  key: string;
  /** Bytes. */
  size: number;
  /** Changes whenever the content does; opaque. */
  etag: string;
  contentType: string;
  uploadedAt: Date;
  /** Where the store serves the object (a Blob URL); a caller naming an object by URL must name this one. */
  url: string;
}

/** What list() knows of an object (the Blob API does not list content types). */
export type ListedObject = Omit<ObjectInfo, "contentType" | "url">;

export interface PutResult {
  key: string;
  etag: string;
  contentType: string;
}

export type ObjectBody = Buffer | string | ReadableStream<Uint8Array>;

export interface PutOptions {
  contentType: string;
  /**
   * Replace an existing object under the same key. Off by default: a put onto an
   * existing key fails with ObjectExistsError and leaves the stored object as it was.
   */
  overwrite?: boolean;
  /**
   * Upload in parts (8 MiB each, several in flight). Default: for streams, and for
   * bodies from the adapter's threshold up (64 MiB).
   */
  multipart?: boolean;
  /**
   * A stream body: upload it in parts with at most this many in flight, each part read
   * from the stream only when one may go. Bounds the memory of a large upload to about
   * this many parts (8 MiB each); without it the SDK keeps up to 8 in flight and buffers
   * up to 128 MiB ahead of a slow connection. The body must not be empty.
   */
  partsInFlight?: number;
  signal?: AbortSignal;
}

export interface ReadOptions {
  /** First byte, inclusive (default 0). */
  start?: number;
  /** Last byte, inclusive (default: the end of the object). */
  end?: number;
  signal?: AbortSignal;
}

export interface ListOptions {
  /** From a previous page; absent for the first page. */
  cursor?: string;
  /** Objects per page, 1 to 1000 (default 1000). */
  limit?: number;
  signal?: AbortSignal;
}

export interface ListPage {
  /** In key order. */
  objects: ListedObject[];
  /** Pass to the next list() call; null on the last page. */
  cursor: string | null;
}

export interface ObjectStore {
  put(key: string, body: ObjectBody, options: PutOptions): Promise<PutResult>;
  /** Null when there is no object under `key`. */
  head(key: string, options?: { signal?: AbortSignal }): Promise<ObjectInfo | null>;
  /**
   * Bytes `start` to `endInclusive` of the object, like an HTTP range: an end past the
   * object's last byte gives the bytes up to its end, a start at or past its end gives
   * an empty buffer. ObjectNotFoundError when there is no such object.
   */
  readRange(key: string, start: number, endInclusive: number, options?: { signal?: AbortSignal }): Promise<Buffer>;
  /** The object (or the range of it) as a stream, with the same range rules as readRange. */
  read(key: string, options?: ReadOptions): Promise<ReadableStream<Uint8Array>>;
  /** Objects whose key starts with `prefix` ("" for all), a page at a time. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Deletes each key; keys with no object are not an error. */
  delete(keys: string | readonly string[], options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * The key of the object a URL of this store names, or null when the URL is not one of
   * this store's (another host, another path). Not a lookup: head() the key, and compare
   * its `url`, to know the object is there at that very address.
   */
  keyOfUrl(url: string): string | null;
  /** One cheap authenticated request, for GET /api/health. */
  ping(): Promise<void>;
}
