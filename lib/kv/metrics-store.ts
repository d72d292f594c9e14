/**
 * The metrics port: one hash per metric, a field per label set (and per bucket),
 * shared by every process (Upstash Redis) or kept in memory (embedded mode). Writers
 * add field updates; the scrape reads whole hashes. The job state store applies the
 * chunk metrics in the same atomic step as the chunk's completion, so a duplicate
 * delivery never counts twice (lib/kv/upstash.ts, lib/kv/memory.ts).
 */
import type { FieldUpdate } from "../metrics/deltas.js";

export interface MetricsStore {
  apply(updates: readonly FieldUpdate[]): Promise<void>;
  /** Every field of each metric named. */
  read(metrics: readonly string[]): Promise<Record<string, Record<string, number>>>;
}

/** In memory (one process): also what the memory job state store writes chunk metrics into. */
export class MemoryMetrics implements MetricsStore {
  private readonly hashes = new Map<string, Map<string, number>>();

  applyNow(updates: readonly FieldUpdate[]): void {
    for (const update of updates) {
      const hash = this.hashes.get(update.metric) ?? new Map<string, number>();
      this.hashes.set(update.metric, hash);
      const current = hash.get(update.field);
      hash.set(update.field, update.op === "add" ? (current ?? 0) + update.value : Math.max(current ?? -Infinity, update.value));
    }
  }

  async apply(updates: readonly FieldUpdate[]): Promise<void> {
    this.applyNow(updates);
  }

  async read(metrics: readonly string[]): Promise<Record<string, Record<string, number>>> {
    return Object.fromEntries(metrics.map((name) => [name, Object.fromEntries(this.hashes.get(name) ?? [])]));
  }
}

/** The Lua that applies field updates; ARGV: per update op, field, value (KEYS: the metric hashes, in order). */
export const APPLY_METRICS_LUA = `
local function apply_metrics(first_key, first_arg)
  local k = first_key
  for i = first_arg, #ARGV, 3 do
    local op, field, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    if op == 'add' then
      redis.call('HINCRBYFLOAT', KEYS[k], field, value)
    else
      local current = tonumber(redis.call('HGET', KEYS[k], field) or '-inf')
      if tonumber(value) > current then redis.call('HSET', KEYS[k], field, value) end
    end
    k = k + 1
  end
end
`;

/** KEYS and ARGV for APPLY_METRICS_LUA's updates. */
export function metricsScriptArgs(prefix: string, updates: readonly FieldUpdate[]): { keys: string[]; args: string[] } {
  return {
    keys: updates.map((update) => `${prefix}metrics:${update.metric}`),
    args: updates.flatMap((update) => [update.op, update.field, String(update.value)]),
  };
}
