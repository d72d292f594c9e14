/**
 * The key-value port: chooses the JobStateStore adapter from `KvConfig` (Upstash when
 * UPSTASH_REDIS_REST_URL/_TOKEN or KV_REST_API_URL/_TOKEN are set, else in memory;
 * production refuses to start without Upstash, see lib/config.ts).
 */
import type { KvConfig } from "../config.js";
import type { JobStateStore } from "./job-state.js";
import { createMemoryJobStateStore } from "./memory.js";
import { createUpstashJobStateStore } from "./upstash.js";
import type { SyncStateStore } from "./sync-state.js";
import { type MemoryMetrics, type MetricsStore } from "./metrics-store.js";
import { createUpstashMetricsStore } from "./metrics-store-upstash.js";
import { createMemorySyncStateStore } from "./sync-state-memory.js";
import { createUpstashSyncStateStore } from "./sync-state-upstash.js";

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
  /** Memory only: where newly completed chunks' metrics go. */
  metrics?: MemoryMetrics;
}

export function createJobStateStore(config: KvConfig, options: JobStateStoreOptions = {}): JobStateStore {
  switch (config.driver) {
    case "memory":
      return createMemoryJobStateStore({ ttlMs: options.ttlMs, metrics: options.metrics });
    case "upstash": {
      const { metrics: _memory, ...upstash } = options;
      return createUpstashJobStateStore({ url: config.url, token: config.token, ...upstash });
    }
  }
}

export type { RequestSlot, SyncStateStore } from "./sync-state.js";

/** The sync's shared state on the same Redis as the job state (or in memory when embedded). */
export function createSyncStateStore(config: KvConfig, options: { keyPrefix?: string } = {}): SyncStateStore {
  switch (config.driver) {
    case "memory":
      return createMemorySyncStateStore();
    case "upstash":
      return createUpstashSyncStateStore({ url: config.url, token: config.token, ...options });
  }
}

export type { MetricsStore } from "./metrics-store.js";
export { MemoryMetrics } from "./metrics-store.js";

/** The metrics on the same Redis as the job state (or, embedded, the memory twin the memory job state store also writes). */
export function createMetricsStore(config: KvConfig, memory: MemoryMetrics, options: { keyPrefix?: string } = {}): MetricsStore {
  switch (config.driver) {
    case "memory":
      return memory;
    case "upstash":
      return createUpstashMetricsStore({ url: config.url, token: config.token, ...options });
  }
}
