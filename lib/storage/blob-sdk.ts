/**
 * The `@vercel/blob` SDK as the Blob adapter reaches it: loaded on first use, and only
 * once its settings (applyBlobSdkSettings in lib/config.ts) point at the API the store
 * was configured for.
 */
import type * as BlobSdk from "@vercel/blob";
import type { HeadBlobResult } from "@vercel/blob";
import { currentBlobSdkApiUrl } from "../config.js";
import { StorageRefusedError } from "./errors.js";

export type Sdk = typeof BlobSdk;

let loading: Promise<Sdk> | undefined;
/** Loaded on first use: it brings its own undici, which routes that never store anything need not load. */
const loadSdk = () => {
  loading ??= import("@vercel/blob");
  return loading;
};

/** The SDK, after checking that its environment points where the store was told to (`apiUrl`). */
export async function blobSdkFor(apiUrl: string | null): Promise<Sdk> {
  const pointedAt = currentBlobSdkApiUrl();
  if (pointedAt === undefined || pointedAt !== apiUrl) {
    throw new StorageRefusedError(
      `The Blob SDK is not set up for this store (it would talk to ${describeApi(pointedAt)}, ` +
        `the store is configured for ${describeApi(apiUrl)}); call applyBlobSdkSettings() first.`,
    );
  }
  return loadSdk();
}

/** head(), with a missing object as null rather than an error. */
export async function headOrNull(
  blob: Sdk,
  token: string,
  key: string,
  signal?: AbortSignal,
): Promise<HeadBlobResult | null> {
  try {
    return await blob.head(key, { token, ...(signal ? { abortSignal: signal } : {}) });
  } catch (error) {
    if (error instanceof blob.BlobNotFoundError) return null;
    throw error;
  }
}

function describeApi(apiUrl: string | null | undefined): string {
  if (apiUrl === undefined) return "nothing (no settings applied)";
  return apiUrl === null ? "Vercel's API" : apiUrl;
}
