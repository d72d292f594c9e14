/**
 * dev/upstash-redis-bridge.ts against the real `@upstash/redis` client and a real
 * redis-server: the Upstash REST wire contract of docs/local-services.md (base64 at every
 * depth, flat arrays, errors per element, NOSCRIPT, 401), plus what raw HTTP shows
 * that the SDK hides.
 */
import { Redis } from "@upstash/redis";
import { expect } from "vitest";
import { BRIDGE_TOKEN, describeRedis, redisTest } from "../support/redis-fixtures.js";

function sdk(url: string, token = BRIDGE_TOKEN, extra: Partial<ConstructorParameters<typeof Redis>[0]> = {}): Redis {
  return new Redis({
    url,
    token,
    automaticDeserialization: false,
    enableAutoPipelining: false,
    enableTelemetry: false,
    retry: false,
    ...extra,
  });
}

async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      authorization: `Bearer ${BRIDGE_TOKEN}`,
      "content-type": "application/json",
      "upstash-encoding": "base64",
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as unknown };
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

describeRedis("upstash REST bridge with the real @upstash/redis client", () => {
  redisTest("get and set round-trip UTF-8, base64-looking strings and numbers", async ({ bridge, keyPrefix }) => {
    const redis = sdk(bridge.url);
    const values = ["hello world", "héllo ✓ 日本 🚀", "abcd", "QUJDRA==", "OK", "PONG", "", " spaced "];
    for (const [i, value] of values.entries()) {
      expect(await redis.set(`${keyPrefix}s${i}`, value)).toBe("OK");
      expect(await redis.get(`${keyPrefix}s${i}`)).toBe(value);
    }
    await redis.set(`${keyPrefix}n`, 5);
    expect(await redis.get(`${keyPrefix}n`)).toBe("5");
    expect(await redis.incr(`${keyPrefix}n`)).toBe(6);
    expect(await redis.incrby(`${keyPrefix}n`, -10)).toBe(-4);
    expect(await redis.get(`${keyPrefix}missing`)).toBeNull();
    expect(await redis.set(`${keyPrefix}nx`, "v", { nx: true, ex: 60 })).toBe("OK");
    expect(await redis.set(`${keyPrefix}nx`, "w", { nx: true, ex: 60 })).toBeNull();
    expect(await redis.ttl(`${keyPrefix}nx`)).toBeGreaterThan(50);
    expect(await redis.ping()).toBe("PONG");
  });

  redisTest("a value of 1 MB and one of raw bytes come back exactly", async ({ bridge, keyPrefix, redisClient }) => {
    const redis = sdk(bridge.url);
    const big = "é".repeat(512 * 1024);
    await redis.set(`${keyPrefix}big`, big);
    expect(await redis.get(`${keyPrefix}big`)).toBe(big);
    // Not UTF-8: only base64 can carry it; the SDK would decode it lossily, raw HTTP shows the bytes.
    const setBytes = "redis.call('SET', KEYS[1], string.char(255, 0, 13, 10, 1))";
    await redisClient.call("EVAL", setBytes, "1", `${keyPrefix}bytes`);
    const { json } = await post(bridge.url, ["get", `${keyPrefix}bytes`]);
    expect(Buffer.from((json as { result: string }).result, "base64")).toEqual(Buffer.from([255, 0, 13, 10, 1]));
  });

  redisTest("hgetall, zrange withscores, scan and mget are flat arrays", async ({ bridge, keyPrefix }) => {
    const redis = sdk(bridge.url);
    expect(await redis.hset(`${keyPrefix}h`, { f1: "v1", f2: 2, f3: "abcd" })).toBe(3);
    expect(await redis.hgetall(`${keyPrefix}h`)).toEqual(["f1", "v1", "f2", "2", "f3", "abcd"]);
    expect(await redis.hget(`${keyPrefix}h`, "f3")).toBe("abcd");
    await redis.zadd(`${keyPrefix}z`, { score: 1.5, member: "m1" }, { score: 2, member: "m2" });
    expect(await redis.zrange(`${keyPrefix}z`, 0, -1, { withScores: true })).toEqual(["m1", "1.5", "m2", "2"]);
    const [cursor, keys] = await redis.scan(0, { match: `${keyPrefix}h*`, count: 1000 });
    expect(typeof cursor).toBe("string");
    expect(keys).toContain(`${keyPrefix}h`);
    expect(await redis.mget(`${keyPrefix}h-none`, `${keyPrefix}none`)).toEqual([null, null]);
  });

  redisTest("eval returns mixed integers and strings; evalsha of an unknown script says NOSCRIPT", async ({
    bridge,
    keyPrefix,
  }) => {
    const redis = sdk(bridge.url);
    expect(
      await redis.eval("return {10, ARGV[1], KEYS[1], {ARGV[2], 7}}", [`${keyPrefix}k1`], ["val1", "abcd"]),
    ).toEqual([10, "val1", `${keyPrefix}k1`, ["abcd", 7]]);
    expect(await redis.eval("return nil", [], [])).toBeNull();
    await expect(redis.evalsha("0".repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
    await expect(redis.eval("return redis.call('INCR', KEYS[1], 'x')", [`${keyPrefix}k`], [])).rejects.toThrow(
      /ERR/,
    );
  });

  redisTest("createScript falls back from EVALSHA to EVAL after SCRIPT FLUSH", async ({ bridge, redisClient }) => {
    const redis = sdk(bridge.url);
    const script = redis.createScript<[string, number]>(`return {ARGV[1], ${Date.now()}}`);
    await redisClient.call("SCRIPT", "FLUSH");
    expect((await script.exec([], ["first"]))[0]).toBe("first");
    expect((await script.exec([], ["second"]))[0]).toBe("second");
    await redisClient.call("SCRIPT", "FLUSH");
    expect((await script.exec([], ["third"]))[0]).toBe("third");
  });

  redisTest("pipeline: in order, a failing element fails alone (keepErrors)", async ({ bridge, keyPrefix }) => {
    const redis = sdk(bridge.url);
    const key = `${keyPrefix}p`;
    const results = await redis.pipeline().set(key, "abcd").incr(key).get(key).exec({ keepErrors: true });
    expect(results[0]).toEqual({ result: "OK", error: undefined });
    expect(results[1]?.error).toMatch(/not an integer/);
    expect(results[2]).toEqual({ result: "abcd", error: undefined });
    await expect(redis.pipeline().get(key).incr(key).exec()).rejects.toThrow(/Command 2 \[ incr \] failed/);
  });

  redisTest("multi-exec is atomic and reports a runtime error per element", async ({ bridge, keyPrefix }) => {
    const redis = sdk(bridge.url);
    const key = `${keyPrefix}m`;
    expect(await redis.multi().set(key, "1").incr(key).get(key).exec()).toEqual(["OK", 2, "2"]);
    const results = await redis.multi().set(key, "x").incr(key).get(key).exec({ keepErrors: true });
    expect(results[1]?.error).toMatch(/not an integer/);
    expect(results[2]?.result).toBe("x");
    // Concurrent transactions each see their own writes in one block.
    const counter = `${keyPrefix}mc`;
    const all = await Promise.all(
      Array.from({ length: 20 }, () => redis.multi().incr(counter).incr(counter).exec<[number, number]>()),
    );
    for (const [a, b] of all) expect(b).toBe(a + 1);
  });

  redisTest("the SDK's defaults (auto-pipelining, deserialization) work too", async ({ bridge, keyPrefix }) => {
    const redis = new Redis({ url: bridge.url, token: BRIDGE_TOKEN, retry: false, enableTelemetry: false });
    await Promise.all([redis.set(`${keyPrefix}a1`, { n: 1 }), redis.set(`${keyPrefix}a2`, "text")]);
    const [a1, a2, pong] = await Promise.all([redis.get(`${keyPrefix}a1`), redis.get(`${keyPrefix}a2`), redis.ping()]);
    expect(a1).toEqual({ n: 1 });
    expect(a2).toBe("text");
    expect(pong).toBe("PONG");
  });

  redisTest("a wrong token is refused with 401 Unauthorized", async ({ bridge }) => {
    await expect(sdk(bridge.url, "not-the-token").ping()).rejects.toThrow(/Unauthorized/);
    const response = await fetch(bridge.url, { method: "POST", body: '["ping"]' });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: "Unauthorized" });
  });

  redisTest("raw HTTP: every string is base64 at any depth unless not asked; errors are plain", async ({
    bridge,
    keyPrefix,
  }) => {
    expect(await post(bridge.url, ["ping"])).toEqual({ status: 200, json: { result: b64("PONG") } });
    expect(await post(bridge.url, ["ping"], { "upstash-encoding": "" })).toEqual({
      status: 200,
      json: { result: "PONG" },
    });
    expect(await post(bridge.url, ["set", `${keyPrefix}r`, 12])).toEqual({ status: 200, json: { result: b64("OK") } });
    expect(await post(bridge.url, ["eval", "return {1, 'a', {'b', {2}}}", 0])).toEqual({
      status: 200,
      json: { result: [1, b64("a"), [b64("b"), [2]]] },
    });
    const commands = [["get", `${keyPrefix}r`], ["nosuchcommand"], ["exists", `${keyPrefix}r`, true]];
    expect(await post(`${bridge.url}/pipeline`, commands)).toEqual({
      status: 200,
      json: [{ result: b64("12") }, { error: expect.stringMatching(/unknown command/) as unknown }, { result: 1 }],
    });
    const failed = await post(bridge.url, ["incr", "no", "such", "arity"]);
    expect(failed.status).toBe(400);
    expect(failed.json).toEqual({ error: expect.stringMatching(/^ERR wrong number of arguments/) as unknown });
    const aborted = await post(`${bridge.url}/multi-exec`, [["set", `${keyPrefix}ma`, "1"], ["nosuchcommand"]]);
    expect(aborted.status).toBe(400);
    expect(aborted.json).toEqual({ error: expect.stringMatching(/EXECABORT/) as unknown });
    expect((await post(bridge.url, ["get", `${keyPrefix}ma`])).json).toEqual({ result: null });
  });

  redisTest("raw HTTP: connection-state commands and malformed bodies are refused", async ({ bridge }) => {
    for (const command of [["select", 1], ["multi"], ["blpop", "k", 0], ["subscribe", "c"], ["client", "kill"]]) {
      const { status, json } = await post(bridge.url, command);
      expect(status, String(command[0])).toBe(400);
      expect(json).toEqual({ error: expect.stringMatching(/not supported/) as unknown });
    }
    expect((await post(bridge.url, "not json")).status).toBe(400);
    expect((await post(bridge.url, [])).status).toBe(400);
    expect((await post(`${bridge.url}/pipeline`, [["ping"], "ping"])).status).toBe(400);
    expect((await post(`${bridge.url}/nowhere`, ["ping"])).status).toBe(404);
    const get = await fetch(bridge.url, { headers: { authorization: `Bearer ${BRIDGE_TOKEN}` } });
    expect(get.status).toBe(405);
    await get.arrayBuffer();
  });

  redisTest("keeps up with thousands of concurrent commands", async ({ bridge, keyPrefix }) => {
    const redis = sdk(bridge.url);
    const started = performance.now();
    const total = 4_000;
    for (let batch = 0; batch < total; batch += 200) {
      await Promise.all(Array.from({ length: 200 }, (_, i) => redis.incr(`${keyPrefix}load${(batch + i) % 10}`)));
    }
    const seconds = (performance.now() - started) / 1000;
    expect(await redis.get(`${keyPrefix}load0`)).toBe(String(total / 10));
    // Far below what it does (several thousand a second on the 2-core box), far above a stall.
    expect(total / seconds).toBeGreaterThan(500);
  });
});
