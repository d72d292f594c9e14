/**
 * The JobStateStore on Upstash Redis through `@upstash/redis` (production, and local
 * services mode through dev/upstash-redis-bridge.ts against a real redis-server).
 *
 * Every method is one Lua script (EVALSHA, EVAL on NOSCRIPT), so each is atomic and a
 * write the client retries after a lost answer changes nothing the second time (a
 * repeated claim by the same owner renews instead of counting an attempt). The one
 * exception is tryFinalise: a retry after its "true" was lost answers false, and then
 * no caller finalises; the engine's watchdog has to catch such a job. "Now" is Redis
 * `TIME` inside the script (Redis 7 replicates scripts by effects), so workers with
 * skewed clocks agree on lease expiry.
 *
 * Keys of a job, all in one hash slot (the `{jobId}` hash tag), all expiring together:
 *
 *   <prefix>job:{<id>}:meta      hash  chunk_total, row_total, started_at_ms, cancelled, finalised
 *                                      (its existence is the job's: no meta hash → `unknown`)
 *   <prefix>job:{<id>}:counters  hash  rows_done, rows_failed, chunks_done, chunks_failed, custom…
 *   <prefix>job:{<id>}:done      set   every complete chunk (failed ones too): the "count once" marker
 *   <prefix>job:{<id>}:failed    set   the complete chunks that failed as a whole
 *   <prefix>job:{<id>}:leases    zset  chunk → lease expiry (ms, Redis clock)
 *   <prefix>job:{<id>}:owners    hash  chunk → lease owner
 *   <prefix>job:{<id>}:attempts  hash  chunk → claims so far
 *
 * init, restore and complete set the TTL of all seven; keys that a claim creates later
 * take the meta hash's remaining TTL, so the job's keys never outlive one another.
 */
import { createUpstashClient } from "./upstash-client.js";
import { APPLY_METRICS_LUA, metricsScriptArgs } from "./metrics-store.js";
import type {
  ChunkTally,
  ClaimResult,
  CompleteResult,
  JobInit,
  JobStateSnapshot,
  LiveJobState,
  JobStateStore,
  Lease,
} from "./job-state.js";
import {
  checkChunk,
  checkInit,
  checkJobId,
  checkLeaseMs,
  checkOutcome,
  checkOwner,
  checkTtlMs,
  chunkOutOfRange,
  DEFAULT_TTL_MS,
  JobStateMissingError,
  STANDARD_COUNTERS,
  summariseSnapshot,
} from "./rules.js";

export interface UpstashJobStateStoreOptions {
  url: string;
  token: string;
  /** Prepended to every key (several deployments may share one database). */
  keyPrefix?: string;
  /** How long a job's state lives after its last init, restore or completion. */
  ttlMs?: number;
  /** Per request; a request that takes longer fails (and is not retried). */
  requestTimeoutMs?: number;
  /** Retries of a request that failed at the network level (every script is safe to repeat). */
  retries?: number;
}

export const DEFAULT_KEY_PREFIX = "dropflow:";

const KEY_SUFFIXES = ["meta", "counters", "done", "failed", "leases", "owners", "attempts"] as const;

/** The job's keys, in the order every script takes them as KEYS[1..7]. */
export function jobKeys(prefix: string, jobId: string): string[] {
  return KEY_SUFFIXES.map((suffix) => `${prefix}job:{${jobId}}:${suffix}`);
}

/** Shared by every script: key names, the Redis clock, TTL handling. */
const PRELUDE = `
local meta, counters, done, failed, leases, owners, attempts =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Every key of the job expires at the same moment.
local function refresh(ttl_ms)
  for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ttl_ms) end
end

-- Keys created after init take the meta hash's remaining time.
local function follow_meta(...)
  local pttl = redis.call('PTTL', meta)
  if pttl > 0 then
    for _, key in ipairs({...}) do redis.call('PEXPIRE', key, pttl) end
  end
end

-- Commands take at most a few thousand arguments at once (Lua's unpack limit).
local function in_batches(command, key, first, last, step)
  local i = first
  while i <= last do
    local j = math.min(i + 999 * step + (step - 1), last)
    redis.call(command, key, unpack(ARGV, i, j))
    i = j + 1
  end
end
`;

/**
 * ARGV: chunk_total, row_total, started_at_ms, ttl_ms.
 * Creates the job unless its meta hash exists (leftovers of an expired job are cleared);
 * refreshes the TTL either way. Returns 1 when created, else 0.
 */
const INIT_JOB = `${PRELUDE}
local created = 0
if redis.call('EXISTS', meta) == 0 then
  redis.call('DEL', counters, done, failed, leases, owners, attempts)
  redis.call('HSET', meta, 'chunk_total', ARGV[1], 'row_total', ARGV[2], 'started_at_ms', ARGV[3],
    'cancelled', '0', 'finalised', '0')
  redis.call('HSET', counters, 'rows_done', 0, 'rows_failed', 0, 'chunks_done', 0, 'chunks_failed', 0)
  created = 1
end
refresh(ARGV[4])
return created
`;

/**
 * ARGV: chunk_total, row_total, started_at_ms, cancelled (0|1), finalised (0|1), ttl_ms,
 *       n_done, <n_done chunks>, n_failed, <n_failed chunks>, then counter name/value pairs.
 * Replaces every key of the job; leases and attempts are dropped. Returns 1.
 */
const RESTORE_JOB = `${PRELUDE}
redis.call('DEL', meta, counters, done, failed, leases, owners, attempts)
redis.call('HSET', meta, 'chunk_total', ARGV[1], 'row_total', ARGV[2], 'started_at_ms', ARGV[3],
  'cancelled', ARGV[4], 'finalised', ARGV[5])
local i = 7
local n_done = tonumber(ARGV[i])
if n_done > 0 then in_batches('SADD', done, i + 1, i + n_done, 1) end
i = i + n_done + 1
local n_failed = tonumber(ARGV[i])
if n_failed > 0 then in_batches('SADD', failed, i + 1, i + n_failed, 1) end
i = i + n_failed + 1
if i <= #ARGV then in_batches('HSET', counters, i, #ARGV, 2) end
refresh(ARGV[6])
return 1
`;

/**
 * ARGV: chunk, owner, lease_ms.
 * Returns {'unknown'} | {'range', chunk_total} | {'done'} | {'cancelled'}
 *       | {'leased', owner, expires_ms} | {'claimed', attempt, expires_ms}.
 * The same owner re-claiming a live lease renews it without counting an attempt, so a
 * retried claim whose answer was lost is not a second attempt.
 */
const CLAIM_CHUNK = `${PRELUDE}
if redis.call('EXISTS', meta) == 0 then return {'unknown'} end
local chunk, owner = ARGV[1], ARGV[2]
local total = tonumber(redis.call('HGET', meta, 'chunk_total'))
if tonumber(chunk) >= total then return {'range', total} end
if redis.call('SISMEMBER', done, chunk) == 1 then return {'done'} end
if redis.call('HGET', meta, 'cancelled') == '1' then return {'cancelled'} end
local now = now_ms()
local expires = now + tonumber(ARGV[3])
local score = redis.call('ZSCORE', leases, chunk)
if score and tonumber(score) > now then
  local holder = redis.call('HGET', owners, chunk) or ''
  if holder ~= owner then return {'leased', holder, tonumber(score)} end
  redis.call('ZADD', leases, expires, chunk)
  return {'claimed', tonumber(redis.call('HGET', attempts, chunk) or '1'), expires}
end
local attempt = redis.call('HINCRBY', attempts, chunk, 1)
redis.call('ZADD', leases, expires, chunk)
redis.call('HSET', owners, chunk, owner)
follow_meta(leases, owners, attempts)
return {'claimed', attempt, expires}
`;

/** ARGV: chunk, owner, lease_ms. Returns the new expiry, or 0 when the owner holds no live lease. */
const RENEW_LEASE = `${PRELUDE}
if redis.call('EXISTS', meta) == 0 then return 0 end
local chunk, owner = ARGV[1], ARGV[2]
local now = now_ms()
local score = redis.call('ZSCORE', leases, chunk)
if not score or tonumber(score) <= now or redis.call('HGET', owners, chunk) ~= owner then return 0 end
local expires = now + tonumber(ARGV[3])
redis.call('ZADD', leases, expires, chunk)
return expires
`;

/** ARGV: chunk, owner. Drops the lease if the owner holds it. Returns 1 if dropped, else 0. */
const RELEASE_LEASE = `${PRELUDE}
if redis.call('HGET', owners, ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', leases, ARGV[1])
redis.call('HDEL', owners, ARGV[1])
return 1
`;

/**
 * ARGV: chunk, rows_done, rows_failed, failed (0|1), ttl_ms, the number of custom counters, their
 * name/value pairs, then the chunk's metric updates (op, field, value; their hashes are KEYS[8..]).
 * Counts the outcome and the metrics only if the chunk was not done yet; drops its lease either way.
 * (The metric hashes are outside the job's hash slot: fine on Upstash and a single Redis, not on a
 * Redis Cluster.)
 * Returns {'unknown'} | {'range', chunk_total} | {'ok', newly (0|1), chunks_done, chunks_failed, chunk_total}.
 */
const COMPLETE_CHUNK = `${PRELUDE}${APPLY_METRICS_LUA}
if redis.call('EXISTS', meta) == 0 then return {'unknown'} end
local chunk = ARGV[1]
local total = tonumber(redis.call('HGET', meta, 'chunk_total'))
if tonumber(chunk) >= total then return {'range', total} end
local newly = redis.call('SADD', done, chunk)
if newly == 1 then
  if ARGV[4] == '1' then
    redis.call('SADD', failed, chunk)
    redis.call('HINCRBY', counters, 'chunks_failed', 1)
  else
    redis.call('HINCRBY', counters, 'chunks_done', 1)
  end
  redis.call('HINCRBY', counters, 'rows_done', ARGV[2])
  redis.call('HINCRBY', counters, 'rows_failed', ARGV[3])
  local pairs_end = 6 + 2 * tonumber(ARGV[6])
  for i = 7, pairs_end, 2 do redis.call('HINCRBY', counters, ARGV[i], ARGV[i + 1]) end
  apply_metrics(8, pairs_end + 1)
end
redis.call('ZREM', leases, chunk)
redis.call('HDEL', owners, chunk)
refresh(ARGV[5])
local c = redis.call('HMGET', counters, 'chunks_done', 'chunks_failed')
return {'ok', newly, tonumber(c[1] or '0'), tonumber(c[2] or '0'), total}
`;

/** ARGV: chunk_total, row_total. Raises both to at least these for an existing job; returns 1 if it exists. */
const GROW_JOB = `${PRELUDE}
if redis.call('EXISTS', meta) == 0 then return 0 end
if tonumber(redis.call('HGET', meta, 'chunk_total')) < tonumber(ARGV[1]) then redis.call('HSET', meta, 'chunk_total', ARGV[1]) end
if tonumber(redis.call('HGET', meta, 'row_total')) < tonumber(ARGV[2]) then redis.call('HSET', meta, 'row_total', ARGV[2]) end
return 1
`;

/** No ARGV. Sets the finalised flag; returns 1 only to the caller that set it. */
const TRY_FINALISE = `${PRELUDE}
if redis.call('EXISTS', meta) == 0 then return 0 end
if redis.call('HGET', meta, 'finalised') == '1' then return 0 end
redis.call('HSET', meta, 'finalised', '1')
return 1
`;

/** No ARGV. Sets the cancel flag of an existing job. Returns 1 if the job exists, else 0. */
const CANCEL_JOB = `${PRELUDE}
if redis.call('EXISTS', meta) == 0 then return 0 end
redis.call('HSET', meta, 'cancelled', '1')
return 1
`;

/**
 * No ARGV. Returns nil for an unknown job, else
 * {chunk_total, row_total, started_at_ms, cancelled, finalised, {counter, value, …}, running, {chunk, attempts, …}}.
 */
const GET_JOB_STATE = `${PRELUDE}
if redis.call('EXISTS', meta) == 0 then return false end
local m = redis.call('HMGET', meta, 'chunk_total', 'row_total', 'started_at_ms', 'cancelled', 'finalised')
local running = redis.call('ZCOUNT', leases, '(' .. now_ms(), '+inf')
return {m[1], m[2], m[3], m[4], m[5], redis.call('HGETALL', counters), running, redis.call('HGETALL', attempts)}
`;

/** No ARGV. Returns the live leases as a flat {chunk, owner, expires_ms, …}. */
const GET_LEASES = `${PRELUDE}
local live = redis.call('ZRANGEBYSCORE', leases, '(' .. now_ms(), '+inf', 'WITHSCORES')
local out = {}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = redis.call('HGET', owners, live[i]) or ''
  out[#out + 1] = tonumber(live[i + 1])
end
return out
`;

/** No ARGV. Deletes every key of the job. Returns how many existed. */
const DELETE_JOB = `${PRELUDE}
return redis.call('DEL', meta, counters, done, failed, leases, owners, attempts)
`;

type Reply = unknown;

function fail(what: string, reply: Reply): never {
  throw new Error(`unexpected reply to ${what} from Redis: ${JSON.stringify(reply)}`);
}

function toNumber(what: string, value: unknown): number {
  const number = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
  if (!Number.isFinite(number)) fail(what, value);
  return number;
}

function asArray(what: string, reply: Reply): unknown[] {
  if (!Array.isArray(reply)) fail(what, reply);
  return reply as unknown[];
}

/** A flat [field, value, …] array (HGETALL) as field → number. */
function pairs(what: string, reply: Reply): Array<[string, number]> {
  const flat = asArray(what, reply);
  const out: Array<[string, number]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), toNumber(what, flat[i + 1])]);
  return out;
}

export function createUpstashJobStateStore(options: UpstashJobStateStoreOptions): JobStateStore {
  const prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (/[{}]/.test(prefix)) throw new TypeError("keyPrefix must not contain { or } (the job id is the hash tag)");
  const ttl = String(checkTtlMs(options.ttlMs ?? DEFAULT_TTL_MS));
  const redis = createUpstashClient({ url: options.url, token: options.token, requestTimeoutMs: options.requestTimeoutMs, retries: options.retries });
  const scripts = {
    init: redis.createScript<Reply>(INIT_JOB),
    restore: redis.createScript<Reply>(RESTORE_JOB),
    claim: redis.createScript<Reply>(CLAIM_CHUNK),
    renew: redis.createScript<Reply>(RENEW_LEASE),
    release: redis.createScript<Reply>(RELEASE_LEASE),
    complete: redis.createScript<Reply>(COMPLETE_CHUNK),
    grow: redis.createScript<Reply>(GROW_JOB),
    finalise: redis.createScript<Reply>(TRY_FINALISE),
    cancel: redis.createScript<Reply>(CANCEL_JOB),
    state: redis.createScript<Reply>(GET_JOB_STATE),
    leases: redis.createScript<Reply>(GET_LEASES),
    remove: redis.createScript<Reply>(DELETE_JOB),
  };
  const keys = (jobId: string) => jobKeys(prefix, checkJobId(jobId));

  return {
    async initJob(jobId: string, init: JobInit): Promise<void> {
      const checked = checkInit(init);
      await scripts.init.exec(keys(jobId), [
        String(checked.chunkTotal),
        String(checked.rowTotal),
        String(checked.startedAtMs),
        ttl,
      ]);
    },

    async restoreJob(jobId: string, snapshot: JobStateSnapshot): Promise<void> {
      const jobKeyList = keys(jobId);
      const init = checkInit(snapshot);
      const summary = summariseSnapshot(jobId, snapshot);
      const args = [
        String(init.chunkTotal),
        String(init.rowTotal),
        String(init.startedAtMs),
        snapshot.cancelled ? "1" : "0",
        snapshot.finalised ? "1" : "0",
        ttl,
        String(summary.done.length),
        ...summary.done.map(String),
        String(summary.failed.length),
        ...summary.failed.map(String),
        ...Object.entries(summary.counters).flatMap(([name, value]) => [name, String(value)]),
      ];
      await scripts.restore.exec(jobKeyList, args);
    },

    async claimChunk(jobId: string, chunk: number, owner: string, leaseMs: number): Promise<ClaimResult> {
      const jobKeyList = keys(jobId);
      checkChunk(chunk);
      checkOwner(owner);
      checkLeaseMs(leaseMs);
      const reply = asArray("claim", await scripts.claim.exec(jobKeyList, [String(chunk), owner, String(leaseMs)]));
      switch (reply[0]) {
        case "unknown":
          return { status: "unknown" };
        case "range":
          throw chunkOutOfRange(jobId, chunk, toNumber("claim", reply[1]));
        case "done":
          return { status: "done" };
        case "cancelled":
          return { status: "cancelled" };
        case "leased":
          return { status: "leased", owner: String(reply[1]), expiresAtMs: toNumber("claim", reply[2]) };
        case "claimed":
          return { status: "claimed", attempt: toNumber("claim", reply[1]), expiresAtMs: toNumber("claim", reply[2]) };
        default:
          return fail("claim", reply);
      }
    },

    async renewLease(jobId: string, chunk: number, owner: string, leaseMs: number): Promise<boolean> {
      const jobKeyList = keys(jobId);
      checkChunk(chunk);
      checkOwner(owner);
      checkLeaseMs(leaseMs);
      const reply = await scripts.renew.exec(jobKeyList, [String(chunk), owner, String(leaseMs)]);
      return toNumber("renew", reply) > 0;
    },

    async releaseLease(jobId: string, chunk: number, owner: string): Promise<void> {
      const jobKeyList = keys(jobId);
      checkChunk(chunk);
      checkOwner(owner);
      await scripts.release.exec(jobKeyList, [String(chunk), owner]);
    },

    async completeChunk(jobId: string, chunk: number, outcome: ChunkTally): Promise<CompleteResult> {
      const jobKeyList = keys(jobId);
      checkChunk(chunk);
      const checked = checkOutcome(outcome);
      const args = [
        String(chunk),
        String(checked.rowsDone),
        String(checked.rowsFailed),
        checked.failed ? "1" : "0",
        ttl,
        String(checked.counters.length),
        ...checked.counters.flatMap(([name, value]) => [name, String(value)]),
      ];
      // The chunk's metrics ride along (KEYS after the job's seven), applied only if newly complete.
      const metrics = metricsScriptArgs(prefix, outcome.metrics ?? []);
      const reply = asArray("complete", await scripts.complete.exec([...jobKeyList, ...metrics.keys], [...args, ...metrics.args]));
      switch (reply[0]) {
        case "unknown":
          throw new JobStateMissingError(jobId);
        case "range":
          throw chunkOutOfRange(jobId, chunk, toNumber("complete", reply[1]));
        case "ok": {
          const chunksDone = toNumber("complete", reply[2]);
          const chunksFailed = toNumber("complete", reply[3]);
          const chunkTotal = toNumber("complete", reply[4]);
          return {
            newlyCompleted: toNumber("complete", reply[1]) === 1,
            chunksDone,
            chunksFailed,
            chunkTotal,
            allComplete: chunksDone + chunksFailed === chunkTotal,
          };
        }
        default:
          return fail("complete", reply);
      }
    },

    async tryFinalise(jobId: string): Promise<boolean> {
      return toNumber("finalise", await scripts.finalise.exec(keys(jobId), [])) === 1;
    },

    async growJob(jobId: string, totals: { chunkTotal: number; rowTotal: number }): Promise<void> {
      await scripts.grow.exec(keys(jobId), [String(totals.chunkTotal), String(totals.rowTotal)]);
    },

    async cancelJob(jobId: string): Promise<void> {
      await scripts.cancel.exec(keys(jobId), []);
    },

    async getJobState(jobId: string): Promise<LiveJobState | null> {
      const reply = await scripts.state.exec(keys(jobId), []);
      if (reply === null) return null;
      const [chunkTotal, rowTotal, startedAtMs, cancelled, finalised, counterPairs, running, attemptPairs] = asArray(
        "getJobState",
        reply,
      );
      const counters: Record<string, number> = Object.fromEntries(STANDARD_COUNTERS.map((name) => [name, 0]));
      for (const [name, value] of pairs("getJobState", counterPairs)) counters[name] = value;
      const attempts: Record<number, number> = {};
      for (const [chunk, value] of pairs("getJobState", attemptPairs)) attempts[Number(chunk)] = value;
      return {
        chunkTotal: toNumber("getJobState", chunkTotal),
        rowTotal: toNumber("getJobState", rowTotal),
        startedAtMs: toNumber("getJobState", startedAtMs),
        cancelled: cancelled === "1",
        finalised: finalised === "1",
        counters,
        running: toNumber("getJobState", running),
        attempts,
      };
    },

    async getLeases(jobId: string): Promise<Lease[]> {
      const flat = asArray("getLeases", await scripts.leases.exec(keys(jobId), []));
      const leases: Lease[] = [];
      for (let i = 0; i + 2 < flat.length; i += 3) {
        leases.push({
          chunk: toNumber("getLeases", flat[i]),
          owner: String(flat[i + 1]),
          expiresAtMs: toNumber("getLeases", flat[i + 2]),
        });
      }
      return leases.sort((a, b) => a.chunk - b.chunk);
    },

    async deleteJob(jobId: string): Promise<void> {
      await scripts.remove.exec(keys(jobId), []);
    },

    async ping(): Promise<void> {
      const answer = await redis.ping();
      if (answer !== "PONG") throw new Error(`unexpected answer to PING from Redis: ${JSON.stringify(answer)}`);
    },

    async close(): Promise<void> {
      // Stateless over HTTP: nothing to close (fetch keeps its own idle connections).
    },
  };
}
