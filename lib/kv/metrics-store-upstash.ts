/**
 * The MetricsStore on Upstash Redis: updates in one Lua script (atomic, and a write
 * the client retries after a lost answer is at worst counted twice, which is why the
 * exactly-once counts ride the chunk completion script instead), reads by HGETALL.
 */
import { createUpstashClient, hashOfNumbers } from "./upstash-client.js";
import { DEFAULT_KEY_PREFIX } from "./upstash.js";
import { APPLY_METRICS_LUA, type MetricsStore, metricsScriptArgs } from "./metrics-store.js";

export function createUpstashMetricsStore(options: { url: string; token: string; keyPrefix?: string }): MetricsStore {
  const prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  // No retries: a repeated increment would count twice; a lost one only undercounts a statistic.
  const redis = createUpstashClient({ url: options.url, token: options.token, retries: 0 });
  const apply = redis.createScript<unknown>(`${APPLY_METRICS_LUA}\napply_metrics(1, 1)\nreturn 1`);
  return {
    async apply(updates) {
      if (updates.length === 0) return;
      const { keys, args } = metricsScriptArgs(prefix, updates);
      await apply.exec(keys, args);
    },
    async read(metrics) {
      const hashes = await Promise.all(metrics.map((name) => redis.hgetall(`${prefix}metrics:${name}`) as Promise<unknown>));
      return Object.fromEntries(metrics.map((name, i) => [name, hashOfNumbers(hashes[i])]));
    },
  };
}
