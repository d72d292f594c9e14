/**
 * The SyncStateStore on Upstash Redis (production; local services mode through the
 * REST bridge and a real redis-server). Each method is one command or one Lua script,
 * so it is atomic; "now" is Redis `TIME`, so processes with skewed clocks agree on when
 * a slot is free. A Redis error propagates: a request whose slot could not be
 * reserved is not sent (the limiter fails closed).
 */
import { createUpstashClient, hashOfNumbers } from "./upstash-client.js";
import { DEFAULT_KEY_PREFIX } from "./upstash.js";
import { checkCounts, checkKey, checkPositive, type RequestSlot, type SyncStateStore } from "./sync-state.js";

const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** KEYS[1] next free slot (ms); ARGV interval, max wait. Returns {granted, wait}. */
const RESERVE_SLOT = `${NOW_MS}
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local wait = slot - now
if wait > max_wait then return {0, wait} end
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', math.ceil(wait + interval + 60000))
return {1, wait}
`;

const HOLD_BUCKET = `${NOW_MS}
local until_ms = now + tonumber(ARGV[1])
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), until_ms)
redis.call('SET', KEYS[1], tostring(slot), 'PX', math.ceil(slot - now + 60000))
return 1
`;

const TRY_LOCK = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

const ADD_COUNTS = `
for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

type Reply = unknown;

export interface UpstashSyncStateStoreOptions {
  url: string;
  token: string;
  keyPrefix?: string;
  requestTimeoutMs?: number;
}

export function createUpstashSyncStateStore(options: UpstashSyncStateStoreOptions): SyncStateStore {
  const prefix = `${options.keyPrefix ?? DEFAULT_KEY_PREFIX}sync:`;
  // Every script here is safe to repeat except reserveSlot, whose repeat only wastes a slot (slower, never faster).
  const redis = createUpstashClient({ url: options.url, token: options.token, requestTimeoutMs: options.requestTimeoutMs });
  const scripts = {
    reserve: redis.createScript<Reply>(RESERVE_SLOT),
    hold: redis.createScript<Reply>(HOLD_BUCKET),
    lock: redis.createScript<Reply>(TRY_LOCK),
    unlock: redis.createScript<Reply>(UNLOCK),
    add: redis.createScript<Reply>(ADD_COUNTS),
  };
  const key = (name: string) => `${prefix}${checkKey(name)}`;

  return {
    async reserveSlot(bucket, intervalMs, maxWaitMs): Promise<RequestSlot> {
      const reply = await scripts.reserve.exec(
        [key(`slot:${bucket}`)],
        [String(Math.ceil(checkPositive("intervalMs", intervalMs))), String(Math.floor(checkPositive("maxWaitMs", maxWaitMs)))],
      );
      if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`reserveSlot: unexpected reply ${JSON.stringify(reply)}`);
      return { granted: Number(reply[0]) === 1, waitMs: Number(reply[1]) };
    },
    async holdBucket(bucket, ms) {
      await scripts.hold.exec([key(`slot:${bucket}`)], [String(Math.ceil(checkPositive("ms", ms)))]);
    },
    async readValue(name) {
      const value = await redis.get<string>(key(`value:${name}`));
      return value === null || value === undefined ? null : String(value);
    },
    async writeValue(name, value, ttlMs) {
      await redis.set(key(`value:${name}`), value, { px: Math.max(1, Math.ceil(checkPositive("ttlMs", ttlMs))) });
    },
    async deleteValue(name) {
      await redis.del(key(`value:${name}`));
    },
    async tryLock(name, owner, ttlMs) {
      const reply = await scripts.lock.exec([key(`value:${name}`)], [owner, String(Math.max(1, Math.ceil(checkPositive("ttlMs", ttlMs))))]);
      return Number(reply) === 1;
    },
    async unlock(name, owner) {
      await scripts.unlock.exec([key(`value:${name}`)], [owner]);
    },
    async addCounts(name, deltas, ttlMs) {
      const checked = checkCounts(deltas);
      if (checked.length === 0) return;
      await scripts.add.exec(
        [key(`counts:${name}`)],
        [String(Math.max(1, Math.ceil(checkPositive("ttlMs", ttlMs)))), ...checked.flatMap(([count, value]) => [count, String(value)])],
      );
    },
    async readCounts(name) {
      return hashOfNumbers(await redis.hgetall(key(`counts:${name}`)));
    },
  };
}
