/**
 * Object storage: the ObjectStore port, its one adapter on Vercel Blob
 * (the real SDK, also against the local stand-in), keys and errors.
 */
export * from "./types.js";
export * from "./errors.js";
export * from "./keys.js";
export {
  type BlobObjectStoreOptions,
  type BlobReadMode,
  createBlobObjectStore,
  DEFAULT_MULTIPART_THRESHOLD,
  DEFAULT_RETRY,
  type RetryPolicy,
} from "./blob.js";
