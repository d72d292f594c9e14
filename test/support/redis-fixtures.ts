/**
 * Redis for suites, on the one redis-server that global-setup.ts started. Suite files
 * run in parallel workers on that one server, so each file works under a key prefix of
 * its own (`keyPrefix`, deleted when the file ends) instead of flushing anything; the
 * bridge refuses SELECT, so prefixes are also what keeps Upstash-protocol suites apart.
 *
 *   describeRedis("job state on Upstash", () => {
 *     redisTest("…", async ({ bridge, keyPrefix, redisClient }) => { … });
 *   });
 */
import { randomBytes } from "node:crypto";
import { describe, inject, test } from "vitest";
import { RespConnection } from "../../dev/resp.js";
import { startUpstashBridge, type UpstashBridge } from "../../dev/upstash-redis-bridge.js";
import { type RedisInfo, SKIP_MARKER, skipBanner } from "./global-setup.js";

export type AvailableRedis = Extract<RedisInfo, { available: true }>;

/** The token every test bridge requires (UPSTASH_REDIS_REST_TOKEN). */
export const BRIDGE_TOKEN = "bridge-test-token-0123456789abcdef";

let bannerShown = false;

/** The run's server, or null after printing the skip banner (once per file) with the reason. */
export function availableRedis(): AvailableRedis | null {
  const info = inject("redis");
  if (info.available) return info;
  if (!bannerShown) {
    bannerShown = true;
    process.stderr.write(skipBanner(info.reason, "Redis-backed"));
  }
  return null;
}

function requireRedis(): AvailableRedis {
  const info = inject("redis");
  if (!info.available) {
    throw new Error(`${SKIP_MARKER}: ${info.reason} (use describeRedis so the suite skips instead)`);
  }
  return info;
}

/** `describe` that skips, printing SKIP_MARKER and the reason, when there is no redis-server. */
export function describeRedis(name: string, fn: () => void): void {
  if (availableRedis()) describe(name, fn);
  else describe.skip(name, fn);
}

/** A plain RESP connection straight to the server (no bridge): for looking behind an adapter's back. */
export function connectRedis(info: AvailableRedis): Promise<RespConnection> {
  return RespConnection.connect({ host: info.host, port: info.port });
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}

/** Every key under `prefix`, sorted. */
export async function keysWithPrefix(connection: RespConnection, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const reply = await connection.call("SCAN", cursor, "MATCH", `${globEscape(prefix)}*`, "COUNT", "1000");
    const [next, batch] = reply as [Buffer, Buffer[]];
    cursor = next.toString("utf8");
    keys.push(...batch.map((key) => key.toString("utf8")));
  } while (cursor !== "0");
  return [...new Set(keys)].sort();
}

export async function deleteKeysWithPrefix(connection: RespConnection, prefix: string): Promise<number> {
  const keys = await keysWithPrefix(connection, prefix);
  for (let i = 0; i < keys.length; i += 500) await connection.call("UNLINK", ...keys.slice(i, i + 500));
  return keys.length;
}

/**
 * `redis`: the server (worker scope). File scope: `keyPrefix`, unique to the file, its
 * keys deleted after the last test; `redisClient`, a raw connection; `bridge`, an
 * Upstash REST bridge to the server that accepts BRIDGE_TOKEN.
 */
export const redisTest = test
  .extend("redis", { scope: "worker" }, () => requireRedis())
  .extend("keyPrefix", { scope: "file" }, ({ redis }, { onCleanup }) => {
    const prefix = `test:${randomBytes(6).toString("hex")}:`;
    onCleanup(async () => {
      // Its own connection: the file's redisClient may already be closed by now.
      const connection = await connectRedis(redis);
      try {
        await deleteKeysWithPrefix(connection, prefix);
      } finally {
        await connection.close();
      }
    });
    return prefix;
  })
  .extend("redisClient", { scope: "file" }, async ({ redis }, { onCleanup }) => {
    const connection = await connectRedis(redis);
    onCleanup(() => connection.close());
    return connection;
  })
  .extend("bridge", { scope: "file" }, async ({ redis }, { onCleanup }): Promise<UpstashBridge> => {
    const bridge = await startUpstashBridge({ redisHost: redis.host, redisPort: redis.port, token: BRIDGE_TOKEN });
    onCleanup(() => bridge.close());
    return bridge;
  });
