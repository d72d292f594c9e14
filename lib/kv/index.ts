/**
 * The key-value port: chooses the JobStateStore adapter from `KvConfig` (Upstash when
 * UPSTASH_REDIS_REST_URL/_TOKEN or KV_REST_API_URL/_TOKEN are set, else in memory;
 * production refuses to start without Upstash, see lib/config.ts).
 */
import type { KvConfig } from "../config.js";
import type { JobStateStore } from "./job-state.js";
import { createMemoryJobStateStore } from "./memory.js";
import { createUpstashJobStateStore } from "./upstash.js";

export type * from "./job-state.js";
export { DEFAULT_TTL_MS, JobStateMissingError } from "./rules.js";
export { DEFAULT_KEY_PREFIX, jobKeys } from "./upstash.js";

export interface JobStateStoreOptions {
  /** Upstash only: prepended to every key. */
  keyPrefix?: string;
  /** How long a job's state lives after its last init, restore or completion (default 7 days). */
  ttlMs?: number;
  /** Upstash only: per-request timeout. */
  requestTimeoutMs?: number;
  /** Upstash only: retries of a request that failed at the network level. */
  retries?: number;
}

export function createJobStateStore(config: KvConfig, options: JobStateStoreOptions = {}): JobStateStore {
  switch (config.driver) {
    case "memory":
      return createMemoryJobStateStore({ ttlMs: options.ttlMs });
    case "upstash":
      return createUpstashJobStateStore({ url: config.url, token: config.token, ...options });
  }
}
