/**
 * How a Blob call fails: which failures another try can help (network failures, 5xx,
 * 429, "unknown" answers), tried `attempts` times with jittered exponential backoff, and
 * what every other failure becomes for the port's callers (errors.ts). The retries are
 * ours and bounded: the SDK's own are turned off (applyBlobSdkSettings).
 */
import { logger } from "../log/index.js";
import type { Sdk } from "./blob-sdk.js";
import { ObjectExistsError, ObjectNotFoundError, StorageError, StorageRefusedError, StorageUnavailableError } from "./errors.js";

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 4_000 };

/** A read answered with a status worth retrying (5xx, 429) or cut short. */
export class TransientReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransientReadError";
  }
}

/** One try of a Blob call; `attempt` counts from 1. */
export type BlobCall<T> = (sdk: Sdk, attempt: number) => Promise<T>;

/**
 * Runs `run` until it succeeds, fails for good, or the policy's tries are spent (then
 * StorageUnavailableError). `operation` and `key` name the call in logs and errors; a
 * call that is not `replayable` (a stream body cannot be sent twice) is tried once.
 */
export type WithRetries = <T>(
  operation: string,
  key: string,
  signal: AbortSignal | undefined,
  run: BlobCall<T>,
  replayable?: boolean,
) => Promise<T>;

const log = logger("storage");

export function withRetriesOf(policy: RetryPolicy, sdk: () => Promise<Sdk>): WithRetries {
  return async (operation, key, signal, run, replayable = true) => {
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
  };
}

export function isExistsError(blob: Sdk, error: unknown): boolean {
  // The API answers bad_request "This blob already exists" (measured against the SDK; docs/local-services.md).
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

/** The port's error for an SDK failure; aborts and failures that are not the SDK's pass through. */
export function toStorageError(blob: Sdk, error: unknown, key: string): unknown {
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
