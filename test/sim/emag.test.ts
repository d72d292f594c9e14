/**
 * The eMAG Marketplace API simulator (dev/sim/emag), in-process on port 0, driven with
 * plain fetch as a client would drive the real API: body shapes, counts, auth and IP
 * refusals, the gateway's rate windows, scripted and random failures, outages per
 * account, data changing under the pager, determinism, and the /__sim control API.
 * Rate limiting is off unless a test is about it, so the tests do not pace themselves.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  type EmagOffer,
  type EmagSimAccountSeed,
  type EmagSimulator,
  type EmagSimulatorOptions,
  startEmagSimulator,
} from "../../dev/sim/emag/server.js";
import { createPrng, deriveSeed } from "../../dev/sim/prng.js";

const USER = "dropflow";
const PASS = "dropflow-sim";
const SMALL: EmagSimAccountSeed[] = [{ username: USER, password: PASS, offers: 250 }];
const TSX = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url));
const SERVER_SCRIPT = fileURLToPath(new URL("../../dev/sim/emag/server.ts", import.meta.url));

interface Envelope<R = unknown> {
  isError: boolean;
  messages: unknown[];
  results: R;
}
type Offers = Envelope<EmagOffer[]>;
type Counts = Envelope<{ noOfItems: string | number; noOfPages: string | number; itemsPerPage: string | number }>;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

interface CallOptions {
  user?: string | null;
  pass?: string;
  headers?: Record<string, string>;
  /** A raw body (form or anything else) instead of JSON. */
  raw?: string;
  platform?: string;
  signal?: AbortSignal;
}

let running: EmagSimulator[] = [];

afterEach(async () => {
  await Promise.all(running.map((sim) => sim.close()));
  running = [];
});

async function start(options: EmagSimulatorOptions = {}): Promise<EmagSimulator> {
  const sim = await startEmagSimulator({
    accounts: SMALL,
    ...options,
    config: { ...options.config, rateLimit: { enabled: false, ...options.config?.rateLimit } },
  });
  running.push(sim);
  return sim;
}

function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
}

async function call(sim: EmagSimulator, route: string, body?: unknown, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  const user = options.user === undefined ? USER : options.user;
  if (user !== null) headers.authorization = basic(user, options.pass ?? PASS);
  let payload: string | undefined;
  if (options.raw !== undefined) {
    payload = options.raw;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["content-type"] = "application/json";
  }
  const base = options.platform ? `${sim.url}/${options.platform}/api-3` : `${sim.url}/api-3`;
  const response = await fetch(`${base}/${route}`, { method: "POST", headers, body: payload, signal: options.signal });
  const text = await response.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

async function readPage(sim: EmagSimulator, page: number, itemsPerPage = 100, extra: Record<string, unknown> = {}, options: CallOptions = {}) {
  const reply = await call(sim, "product_offer/read", { currentPage: page, itemsPerPage, ...extra }, options);
  expect(reply.status).toBe(200);
  const body = reply.json as Offers;
  expect(body.isError).toBe(false);
  return body.results;
}

const ids = (offers: readonly EmagOffer[]) => offers.map((offer) => offer.id);

async function control(sim: EmagSimulator, path: string, body?: unknown, method = body === undefined ? "GET" : "POST") {
  const response = await fetch(`${sim.url}/__sim/${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe("reading and counting offers", () => {
  it("gives the same page for top-level JSON, a data wrapper and a form body, on any platform prefix", async () => {
    const sim = await start();
    const expected = ids(sim.offers(USER).slice(50, 100));
    const topLevel = await call(sim, "product_offer/read", { currentPage: 2, itemsPerPage: 50 });
    const wrapped = await call(sim, "product_offer/read", { data: { currentPage: 2, itemsPerPage: 50 } }, { platform: "emag-ro" });
    const form = await call(sim, "product_offer/read", undefined, {
      raw: "data%5BcurrentPage%5D=2&data[itemsPerPage]=50",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    for (const reply of [topLevel, wrapped, form]) {
      expect(reply.status).toBe(200);
      expect(reply.headers.get("content-type")).toBe("application/json");
      const body = reply.json as Offers;
      expect(body).toMatchObject({ isError: false, messages: [] });
      expect(ids(body.results)).toEqual(expected);
    }
    expect(form.text).toBe(topLevel.text);
    const log = sim.requests();
    expect(log.map((r) => [r.route, r.account, r.status, r.page, r.itemsPerPage, r.results])).toEqual(
      Array.from({ length: 3 }, () => ["product_offer/read", USER, 200, 2, 50, 50]),
    );
  });

  it("serves realistic offers with the documented fields", async () => {
    const sim = await start();
    const [offer] = await readPage(sim, 1, 1);
    expect(offer).toBeDefined();
    const o = offer as EmagOffer;
    expect(o.id).toBeGreaterThanOrEqual(1000);
    expect(o.id).toBeLessThan(1030);
    expect(o.part_number_key).toMatch(/^D5[A-Z0-9]{7}$/);
    expect(o.part_number).toMatch(/^PN-\d+$/);
    expect(o.ean).toHaveLength(1);
    expect(o.ean[0]).toMatch(/^\d{13}$/);
    expect(o.currency).toBe("RON");
    expect(o.stock).toEqual([{ warehouse_id: 1, value: o.general_stock }]);
    expect([0, 1, 2]).toContain(o.status);
    expect(o.offer_validation_status).toMatchObject({ value: expect.any(Number), description: expect.any(String) });
    expect(o.validation_status[0]).toMatchObject({ value: 9 });
    expect(Math.round(o.sale_price * 10_000)).toBeCloseTo(o.sale_price * 10_000, 6);
    expect(o.name.length).toBeGreaterThan(10);
    const all = sim.offers(USER);
    expect(all).toHaveLength(250);
    expect(ids(all)).toEqual([...ids(all)].sort((a, b) => a - b));
    expect(all.filter((x) => x.status === 1).length).toBeGreaterThan(200);
  });

  it("answers count with string numbers by default, and numbers when countAsStrings is off", async () => {
    const sim = await start();
    expect((await call(sim, "product_offer/count", { itemsPerPage: 100 })).json).toEqual({
      isError: false,
      messages: [],
      results: { noOfItems: "250", noOfPages: "3", itemsPerPage: "100" },
    });
    sim.configure({ countAsStrings: false });
    expect(((await call(sim, "product_offer/count", { data: { itemsPerPage: 40 } })).json as Counts).results).toEqual({
      noOfItems: 250,
      noOfPages: 7,
      itemsPerPage: 40,
    });
  });

  it("answers a page past the end with empty results", async () => {
    const sim = await start();
    expect(await readPage(sim, 3)).toHaveLength(50);
    expect((await call(sim, "product_offer/read", { currentPage: 4, itemsPerPage: 100 })).json).toEqual({
      isError: false,
      messages: [],
      results: [],
    });
  });

  it("clamps itemsPerPage over 100 by default and refuses it with overMaxMode isError", async () => {
    const sim = await start();
    expect(await readPage(sim, 1, 500)).toHaveLength(100);
    expect(((await call(sim, "product_offer/count", { itemsPerPage: 500 })).json as Counts).results.itemsPerPage).toBe("100");
    sim.configure({ overMaxMode: "isError" });
    const reply = await call(sim, "product_offer/read", { currentPage: 1, itemsPerPage: 500 });
    expect(reply.status).toBe(200);
    const body = reply.json as Envelope;
    expect(body.isError).toBe(true);
    expect(String(body.messages[0])).toMatch(/itemsPerPage/);
  });

  it("refuses non-integer paging values with a message naming the field, and ignores bad filter values", async () => {
    const sim = await start();
    for (const [field, value] of [
      ["currentPage", 1.5],
      ["currentPage", "two"],
      ["itemsPerPage", 1e300],
      ["currentPage", 0],
    ] as const) {
      const body = (await call(sim, "product_offer/read", { currentPage: 1, itemsPerPage: 10, [field]: value })).json as Envelope;
      expect(body.isError).toBe(true);
      expect(String(body.messages[0])).toContain(field);
    }
    const garbage = await call(sim, "product_offer/read", undefined, { raw: '{"currentPage": 1, "itemsPerPage": ', headers: { "content-type": "application/json" } });
    expect((garbage.json as Envelope).isError).toBe(true);
    const nul = await call(sim, "product_offer/read", undefined, { raw: '{"currentPage":\u0000 1}' });
    expect((nul.json as Envelope).isError).toBe(true);
    // "active" is not an integer status: ignored, as the real API leaves it undefined.
    expect(await readPage(sim, 1, 100, { status: "active", colour: "red" })).toHaveLength(100);
    expect(sim.requests().every((r) => r.status === 200)).toBe(true);
  });

  it("filters by status, id, part_number and part_number_key", async () => {
    const sim = await start();
    const all = sim.offers(USER);
    const inactive = all.filter((offer) => offer.status === 0);
    expect(inactive.length).toBeGreaterThan(0);
    expect(ids(await readPage(sim, 1, 100, { status: 0 }))).toEqual(ids(inactive).slice(0, 100));
    const form = await call(sim, "product_offer/count", undefined, { raw: "data[status]=0&data[itemsPerPage]=100" });
    expect((form.json as Counts).results.noOfItems).toBe(String(inactive.length));
    const target = all[17] as EmagOffer;
    expect(ids(await readPage(sim, 1, 100, { id: target.id }))).toEqual([target.id]);
    expect(ids(await readPage(sim, 1, 100, { part_number: target.part_number }))).toEqual([target.id]);
    expect(ids(await readPage(sim, 1, 100, { part_number_key: target.part_number_key }))).toEqual([target.id]);
  });

  it("changes shapes on request: messages as objects, offer_validation_status as a list", async () => {
    const sim = await start({ config: { messagesShape: "objects", offerValidationShape: "list" } });
    const [offer] = (await readPage(sim, 1, 1)) as unknown as Array<{ offer_validation_status: unknown }>;
    expect(offer?.offer_validation_status).toEqual([{ value: expect.any(Number), description: expect.any(String) }]);
    const refused = (await call(sim, "product_offer/read", {}, { pass: "nope" })).json as Envelope;
    expect(refused.messages).toEqual([{ code: "auth", message: "You are not allowed to use this API." }]);
  });

  it("orders by insertion or at random per request when asked", async () => {
    const sim = await start();
    const original = new Set(ids(sim.offers(USER)));
    sim.mutate(USER, [{ op: "insert", count: 3 }]);
    sim.configure({ orderMode: "insertion" });
    const lastPage = ids(await readPage(sim, 3, 100));
    expect(lastPage).toHaveLength(53);
    expect(lastPage.slice(-3).some((id) => original.has(id))).toBe(false);
    expect(lastPage.slice(0, -3).every((id) => original.has(id))).toBe(true);
    sim.configure({ orderMode: "random-per-request" });
    const first = ids(await readPage(sim, 1, 100));
    const second = ids(await readPage(sim, 1, 100));
    expect(first).not.toEqual(second);
    const everything = [...ids(await readPage(sim, 1, 100)), ...ids(await readPage(sim, 2, 100)), ...ids(await readPage(sim, 3, 100))];
    expect(everything).toHaveLength(253);
  });

  it("serves the orders routes with empty results", async () => {
    const sim = await start();
    expect((await call(sim, "order/read", { currentPage: 1 })).json).toEqual({ isError: false, messages: [], results: [] });
    expect(((await call(sim, "order/count", {})).json as Counts).results).toEqual({ noOfItems: "0", noOfPages: "0", itemsPerPage: "100" });
    const unknown = await call(sim, "product_offer/explode", {});
    expect(unknown.status).toBe(404);
    expect((unknown.json as Envelope).isError).toBe(true);
  });
});

describe("authentication and IP allow-list", () => {
  const refusal = { isError: true, messages: ["You are not allowed to use this API."], results: [] };

  it("answers wrong or missing credentials 401 with the isError envelope", async () => {
    const sim = await start();
    const wrong = await call(sim, "product_offer/read", {}, { pass: "wrong" });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual(refusal);
    const unknown = await call(sim, "product_offer/read", {}, { user: "someone-else" });
    expect(unknown.status).toBe(401);
    const missing = await call(sim, "product_offer/count", {}, { user: null });
    expect(missing.status).toBe(401);
    expect(missing.json).toEqual(refusal);
    expect(sim.requests().map((r) => [r.account, r.status, r.fault])).toEqual([
      [USER, 401, "auth"],
      ["someone-else", 401, "auth"],
      [null, 401, "auth"],
    ]);
  });

  it("answers auth failures 200 when authFailStatus says so", async () => {
    const sim = await start({ config: { authFailStatus: 200 } });
    const reply = await call(sim, "product_offer/read", {}, { pass: "wrong" });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual(refusal);
  });

  it("refuses an IP that is not allow-listed, from the configured header or the socket", async () => {
    const sim = await start({
      accounts: [
        { username: USER, password: PASS, offers: 20, allowedIps: ["10.0.0.1"] },
        { username: "open", password: "open-pass", offers: 5 },
      ],
    });
    const refused = await call(sim, "product_offer/read", {}, { headers: { "x-forwarded-for": "10.0.0.9, 10.0.0.1" } });
    expect(refused.status).toBe(200);
    expect(refused.json).toEqual({ isError: true, messages: ["ERROR: Invalid vendor ip [10.0.0.9]"], results: [] });
    expect(await readPage(sim, 1, 100, {}, { headers: { "x-forwarded-for": "10.0.0.1" } })).toHaveLength(20);
    const socket = (await call(sim, "product_offer/read", {})).json as Envelope;
    expect(socket.messages).toEqual(["ERROR: Invalid vendor ip [127.0.0.1]"]);
    sim.configure({ ipHeader: "X-Real-IP" });
    expect(await readPage(sim, 1, 100, {}, { headers: { "x-real-ip": "10.0.0.1", "x-forwarded-for": "1.1.1.1" } })).toHaveLength(20);
    // No allow-list: any address.
    expect(await readPage(sim, 1, 100, {}, { user: "open", pass: "open-pass", headers: { "x-real-ip": "8.8.8.8" } })).toHaveLength(5);
  });
});

describe("rate limiting", () => {
  it("answers a burst beyond perSecond 429 with the gateway's body and headers, and logs it", async () => {
    const sim = await start({ config: { rateLimit: { enabled: true, other: { perSecond: 5, perMinute: 1000 } } } });
    const replies = await Promise.all(Array.from({ length: 8 }, () => call(sim, "product_offer/count", {})));
    const limited = replies.filter((r) => r.status === 429);
    const served = replies.filter((r) => r.status === 200);
    expect(served).toHaveLength(5);
    expect(limited).toHaveLength(3);
    for (const reply of limited) {
      expect(reply.text).toBe('{"message":"API rate limit exceeded"}');
      expect(reply.headers.get("x-ratelimit-limit-3second")).toBe("15");
      expect(reply.headers.get("x-ratelimit-remaining-3second")).toBe("0");
      expect(reply.headers.get("server")).toBe("kong");
      expect(reply.headers.get("retry-after")).toBeNull();
    }
    const remaining = served.map((r) => Number(r.headers.get("x-ratelimit-remaining-3second"))).sort((a, b) => b - a);
    expect(remaining).toEqual([14, 13, 12, 11, 10]);
    expect(served.every((r) => r.headers.get("x-ratelimit-limit-3second") === "15")).toBe(true);
    const log = sim.requests();
    expect(log.filter((r) => r.status === 429 && r.fault === "rate_limit")).toHaveLength(3);
    expect(log.filter((r) => r.status === 200)).toHaveLength(5);
  });

  it("opens again once the 1 s window has passed (real clock)", async () => {
    const sim = await start({ config: { rateLimit: { enabled: true, other: { perSecond: 20, perMinute: 1000 } } } });
    const burst = await Promise.all(Array.from({ length: 22 }, () => call(sim, "product_offer/count", {})));
    expect(burst.filter((r) => r.status === 429)).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await call(sim, "product_offer/count", {})).status).toBe(200);
  });

  it("counts invalid and unauthenticated requests, keeps the orders bucket apart, and limits per minute", async () => {
    const sim = await start({
      accounts: [...SMALL, { username: "fbe", password: "fbe-pass", offers: 10 }],
      config: { rateLimit: { enabled: true, other: { perSecond: 100, perMinute: 6 }, orders: { perSecond: 100, perMinute: 3 } } },
    });
    expect((await call(sim, "product_offer/read", { currentPage: "x" })).status).toBe(200);
    expect((await call(sim, "product_offer/read", {}, { pass: "wrong" })).status).toBe(401);
    for (let i = 0; i < 4; i++) expect((await call(sim, "product_offer/count", {})).status).toBe(200);
    expect((await call(sim, "product_offer/count", {})).status).toBe(429);
    // Another account, and the orders bucket of the same account, are not affected.
    expect((await call(sim, "product_offer/count", {}, { user: "fbe", pass: "fbe-pass" })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await call(sim, "order/read", {})).status).toBe(200);
    expect((await call(sim, "order/count", {})).status).toBe(429);
    sim.advanceClock(59_000);
    expect((await call(sim, "product_offer/count", {})).status).toBe(429);
    sim.advanceClock(5_000);
    expect((await call(sim, "product_offer/count", {})).status).toBe(200);
    expect((await call(sim, "order/count", {})).status).toBe(200);
  });

  it("keeps refusing for penaltyMs after a 429 and sends Retry-After when asked", async () => {
    const sim = await start({
      config: { rateLimit: { enabled: true, other: { perSecond: 2, perMinute: 1000 }, penaltyMs: 3_000, retryAfterHeader: true } },
    });
    await call(sim, "product_offer/count", {});
    await call(sim, "product_offer/count", {});
    const limited = await call(sim, "product_offer/count", {});
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("1");
    sim.advanceClock(2_000);
    // The window is clear, but the penalty is not (and this 429 extends it).
    expect((await call(sim, "product_offer/count", {})).status).toBe(429);
    sim.advanceClock(2_000);
    expect((await call(sim, "product_offer/count", {})).status).toBe(429);
    sim.advanceClock(3_100);
    expect((await call(sim, "product_offer/count", {})).status).toBe(200);
  });
});

describe("failures", () => {
  it("plays scripted faults: N failures on one page, then success", async () => {
    const sim = await start();
    sim.addFaults([{ route: "product_offer/read", page: 2, times: 2, respond: { status: 503 } }]);
    expect(await readPage(sim, 1)).toHaveLength(100);
    const first = await call(sim, "product_offer/read", { currentPage: 2 });
    const second = await call(sim, "product_offer/read", { currentPage: 2 });
    expect([first.status, second.status]).toEqual([503, 503]);
    expect(await readPage(sim, 2)).toHaveLength(100);
    expect(sim.requests().map((r) => r.fault ?? null)).toEqual([null, "scripted:http", "scripted:http", null]);
  });

  it("plays each kind of garbled answer", async () => {
    const sim = await start();
    sim.addFaults([
      { times: 1, respond: { status: 502 } },
      { times: 1, respond: { status: 504 } },
      { times: 1, respond: { kind: "isError", message: "Something broke" } },
      { times: 1, respond: { kind: "empty_body" } },
      { times: 1, respond: { kind: "invalid_json" } },
      { times: 1, respond: { kind: "no_isError" } },
      { times: 1, respond: { kind: "empty_results" } },
      { times: 1, respond: { kind: "slow", delayMs: 150 } },
    ]);
    const page = { currentPage: 1, itemsPerPage: 10 };
    const bad = await call(sim, "product_offer/read", page);
    expect(bad.status).toBe(502);
    expect(bad.headers.get("content-type")).toBe("text/html");
    expect(bad.text).toContain("502 Bad Gateway");
    const timeout = await call(sim, "product_offer/read", page);
    expect([timeout.status, timeout.text.includes("504 Gateway Time-out")]).toEqual([504, true]);
    expect((await call(sim, "product_offer/read", page)).json).toEqual({ isError: true, messages: ["Something broke"], results: [] });
    const empty = await call(sim, "product_offer/read", page);
    expect([empty.status, empty.text]).toEqual([200, ""]);
    const truncated = await call(sim, "product_offer/read", page);
    expect(truncated.status).toBe(200);
    expect(truncated.json).toBeUndefined();
    expect(truncated.text.length).toBeGreaterThan(0);
    const noFlag = (await call(sim, "product_offer/read", page)).json as Record<string, unknown>;
    expect(noFlag).not.toHaveProperty("isError");
    expect(noFlag.results).toHaveLength(10);
    expect((await call(sim, "product_offer/read", page)).json).toEqual({ isError: false, messages: [], results: [] });
    const before = Date.now();
    expect(await readPage(sim, 1, 10)).toHaveLength(10);
    expect(Date.now() - before).toBeGreaterThanOrEqual(140);
    expect(await readPage(sim, 1, 10)).toHaveLength(10);
  });

  it("hangs a scripted call until the client gives up, and closes with the call still hung", async () => {
    const sim = await start();
    sim.addFaults([{ route: "product_offer/read", times: 1, respond: { kind: "hang" } }]);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    await expect(call(sim, "product_offer/read", { currentPage: 1 }, { signal: controller.signal })).rejects.toThrow(/abort/i);
    clearTimeout(timer);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await readPage(sim, 1)).toHaveLength(100);
    expect(sim.requests()[0]).toMatchObject({ status: 0, fault: "scripted:hang" });

    sim.addFaults([{ times: 1, respond: { kind: "hang" } }]);
    const hung = call(sim, "product_offer/count", {}).then(
      () => "answered",
      () => "dropped",
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = Date.now();
    await sim.close();
    expect(Date.now() - closing).toBeLessThan(1_000);
    expect(await hung).toBe("dropped");
  });

  it("fails one account during its outage window while another account works", async () => {
    const sim = await start({ accounts: [...SMALL, { username: "fbe", password: "fbe-pass", offers: 30 }] });
    const now = Date.now();
    sim.configure({ outages: [{ account: USER, from: now - 1_000, to: now + 60_000, statuses: [500, 502, 504] }] });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await call(sim, "product_offer/read", { currentPage: 1 })).status);
    expect(statuses.every((status) => [500, 502, 504].includes(status))).toBe(true);
    expect(await readPage(sim, 1, 100, {}, { user: "fbe", pass: "fbe-pass" })).toHaveLength(30);
    sim.advanceClock(61_000);
    expect(await readPage(sim, 1)).toHaveLength(100);
  });

  it("fails at random from the seed, the same way for the same seed", async () => {
    const run = async () => {
      const sim = await start({ seed: 3, config: { errors: { probability: 0.5, statuses: [500, 503], kinds: ["http", "http", "isError"] } } });
      const outcomes = [];
      for (let i = 0; i < 16; i++) {
        const reply = await call(sim, "product_offer/count", {});
        outcomes.push(`${reply.status}:${(reply.json as Envelope | undefined)?.isError ?? "-"}`);
      }
      return outcomes;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first.filter((o) => o === "200:false").length).toBeGreaterThan(2);
    expect(first.filter((o) => o !== "200:false").length).toBeGreaterThan(2);
  });

  it("hangs or slows calls at random when the latency knobs say so, and limits random errors to some routes", async () => {
    const sim = await start({ config: { latency: { hangProbability: 1 } } });
    await expect(call(sim, "product_offer/count", {}, { signal: AbortSignal.timeout(150) })).rejects.toThrow();
    expect(sim.requests()[0]).toMatchObject({ status: 0, fault: "hang" });
    sim.configure({ latency: { hangProbability: 0, slowProbability: 1, slowMs: 120 } });
    const before = Date.now();
    expect((await call(sim, "product_offer/count", {})).status).toBe(200);
    expect(Date.now() - before).toBeGreaterThanOrEqual(115);
    expect(sim.requests()[1]).toMatchObject({ status: 200, fault: "slow" });
    sim.configure({ latency: { slowProbability: 0 }, errors: { probability: 1, statuses: [502], routes: ["product_offer/read"] } });
    expect((await call(sim, "product_offer/count", {})).status).toBe(200);
    expect((await call(sim, "product_offer/read", {})).status).toBe(502);
  });

  it("adds configured latency and records it", async () => {
    const sim = await start({ config: { latency: { baseMs: 100, perItemMs: 1 } } });
    const before = Date.now();
    expect(await readPage(sim, 1, 50)).toHaveLength(50);
    expect(Date.now() - before).toBeGreaterThanOrEqual(145);
    expect(sim.requests()[0]?.latencyMs).toBeGreaterThanOrEqual(145);
  });
});

describe("data changing under the pager", () => {
  it("shifts later pages when offers are inserted below the served ones", async () => {
    const sim = await start();
    const page1 = await readPage(sim, 1, 50);
    sim.mutate(USER, [{ op: "insert", count: 5, belowId: (page1[0] as EmagOffer).id }]);
    const page2 = await readPage(sim, 2, 50);
    // The five last offers of page 1 come back at the start of page 2.
    expect(ids(page2.slice(0, 5))).toEqual(ids(page1.slice(45)));
    expect(sim.offers(USER)).toHaveLength(255);
  });

  it("applies perRequest mutations after each served read: inserts make duplicates, deletes make misses", async () => {
    const sim = await start({ config: { mutation: { perRequest: [{ op: "insert", count: 4, probability: 1 }] } } });
    const seen: number[] = [];
    for (let page = 1; ; page++) {
      const results = await readPage(sim, page, 50);
      if (results.length === 0) break;
      seen.push(...ids(results));
    }
    const unique = new Set(seen);
    expect(seen.length - unique.size).toBeGreaterThan(0);
    const final = sim.offers(USER);
    expect(final.length).toBe(250 + 4 * sim.requests().length);
    expect(unique.size).toBeLessThan(final.length);

    const deleting = await start({ seed: 5, config: { mutation: { perRequest: [{ op: "delete", count: 3, probability: 1 }] } } });
    const seenAfterDeletes = new Set<number>();
    for (let page = 1; ; page++) {
      const results = await readPage(deleting, page, 50);
      if (results.length === 0) break;
      for (const id of ids(results)) seenAfterDeletes.add(id);
    }
    const survivors = deleting.offers(USER);
    expect(survivors.length).toBe(250 - 3 * deleting.requests().length);
    expect(survivors.filter((offer) => !seenAfterDeletes.has(offer.id)).length).toBeGreaterThan(0);
  });

  it("flips statuses and changes prices and stock in place", async () => {
    const sim = await start();
    const before = sim.offers(USER);
    sim.mutate(USER, [
      { op: "flip_status", count: 10 },
      { op: "change_stock", count: 5 },
    ]);
    const after = sim.offers(USER);
    expect(after.filter((offer, i) => offer.status !== before[i]?.status)).toHaveLength(10);
    expect(after.every((offer) => offer.stock[0]?.value === offer.general_stock)).toBe(true);
    sim.mutate(USER, [{ op: "change_price", count: 250 }]);
    expect(sim.offers(USER).filter((offer, i) => offer.sale_price !== after[i]?.sale_price).length).toBeGreaterThan(240);
    expect(() => sim.mutate("nobody", [{ op: "delete", count: 1 }])).toThrow(/nobody/);
  });
});

describe("determinism", () => {
  it("generates the same offers from the same seed, and different ones from another", async () => {
    const a = await start({ seed: 7 });
    const b = await start({ seed: 7 });
    const c = await start({ seed: 8 });
    expect(a.offers(USER)).toEqual(b.offers(USER));
    expect(ids(a.offers(USER))).not.toEqual(ids(c.offers(USER)));
    c.seed(7, SMALL);
    expect(c.offers(USER)).toEqual(a.offers(USER));
    c.mutate(USER, [{ op: "delete", count: 50 }]);
    c.reset();
    expect(c.offers(USER)).toEqual(a.offers(USER));
  });

  it("seeds 30,000 offers quickly", async () => {
    const started = Date.now();
    const sim = await start({ accounts: [{ username: USER, password: PASS, offers: 30_000 }] });
    // About 0.3 s measured; the bound leaves room for a loaded CI machine.
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(((await call(sim, "product_offer/count", {})).json as Counts).results.noOfItems).toBe("30000");
    const last = await readPage(sim, 300);
    expect(last).toHaveLength(100);
    expect(new Set(ids(sim.offers(USER))).size).toBe(30_000);
  });

  it("shares a seeded PRNG (mulberry32) with the other simulators", () => {
    const a = createPrng(42);
    const b = createPrng(42);
    const draws = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(draws);
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
    const ints = Array.from({ length: 1000 }, () => a.int(3, 5));
    expect(new Set(ints)).toEqual(new Set([3, 4, 5]));
    expect(a.pick(["x"])).toBe("x");
    expect(deriveSeed(1, "offers:a")).not.toBe(deriveSeed(1, "offers:b"));
    expect(deriveSeed(1, "offers:a")).toBe(deriveSeed(1, "offers:a"));
  });
});

describe("control API", () => {
  it("drives the simulator over HTTP", async () => {
    const sim = await start();
    expect(await control(sim, "health")).toEqual({
      status: 200,
      json: { ok: true, seed: 1, accounts: [{ username: USER, offers: 250 }], now: expect.any(Number) },
    });
    const patched = await control(sim, "config", { latency: { jitterMs: 5 }, countAsStrings: false });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ countAsStrings: false, latency: { baseMs: 0, jitterMs: 5, slowMs: 60_000 } });
    expect((await control(sim, "config")).json).toMatchObject({ countAsStrings: false, rateLimit: { enabled: false } });

    expect(await control(sim, "faults", { faults: [{ route: "product_offer/count", times: 1, respond: { status: 500 } }] })).toEqual({
      status: 200,
      json: { ok: true, pending: 1 },
    });
    expect((await control(sim, "faults")).json.faults).toEqual([{ route: "product_offer/count", times: 1, respond: { status: 500 } }]);
    expect((await call(sim, "product_offer/count", {})).status).toBe(500);
    expect((await control(sim, "faults")).json.faults).toEqual([]);
    expect(((await call(sim, "product_offer/count", {})).json as Counts).results.noOfItems).toBe(250);

    expect((await control(sim, "mutate", { account: USER, ops: [{ op: "delete", count: 10 }] })).json).toEqual({ ok: true, offers: 240 });
    const offers = await control(sim, `offers?account=${USER}`);
    expect((offers.json.offers as EmagOffer[]).length).toBe(240);
    const requests = (await control(sim, "requests")).json.requests as Array<{ route: string; status: number }>;
    expect(requests.map((r) => [r.route, r.status])).toEqual([
      ["product_offer/count", 500],
      ["product_offer/count", 200],
    ]);

    const seeded = await control(sim, "seed", { seed: 9, accounts: [{ username: "x", password: "y", offers: 3 }] });
    expect(seeded.json).toEqual({ ok: true, accounts: [{ username: "x", offers: 3 }] });
    expect((await control(sim, "clock", { advanceMs: 5_000 })).status).toBe(200);
    expect((await control(sim, "reset", {})).json).toEqual({ ok: true });
    expect((await control(sim, "health")).json).toMatchObject({ seed: 9, accounts: [{ username: "x", offers: 3 }] });
    expect((await control(sim, "requests")).json.requests).toEqual([]);
    expect((await control(sim, "config")).json).toMatchObject({ countAsStrings: true });
  });

  it("refuses bad control input with 400 naming the problem, and survives hostile input", async () => {
    const sim = await start();
    const refusals: Array<[string, unknown, RegExp]> = [
      ["config", { latency: { baseMs: -1 } }, /latency\.baseMs/],
      ["config", { rateLimit: { bogus: 1 } }, /rateLimit\.bogus/],
      ["config", { orderMode: "sideways" }, /orderMode/],
      ["config", { errors: { statuses: [999] } }, /errors\.statuses\[0\]/],
      ["config", { outages: [{ account: USER, from: 0 }] }, /outages\[0\]/],
      ["config", { ["constructor"]: 1 }, /constructor/],
      ["config", '{"__proto__": {"latency": {"baseMs": 5}}}', /__proto__/],
      ["faults", { faults: [{ times: 0, respond: {} }] }, /faults\[0\]\.times/],
      ["faults", { faults: [{ times: 1, respond: { kind: "explode" } }] }, /respond\.kind/],
      ["faults", {}, /faults/],
      ["mutate", { account: "nobody", ops: [] }, /nobody/],
      ["mutate", { account: USER, ops: [{ op: "insert", count: 1e12 }] }, /ops\[0\]\.count/],
      ["seed", { seed: 1.5 }, /seed/],
      ["seed", { seed: 1, accounts: [{ username: "a:b", password: "", offers: 1 }] }, /username/],
      ["seed", { seed: 1, accounts: [{ username: "a", password: "", offers: 1e9 }] }, /offers/],
      ["clock", { advanceMs: "soon" }, /advanceMs/],
    ];
    for (const [path, body, message] of refusals) {
      const reply = await control(sim, path, body);
      expect(reply.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(String(reply.json.error)).toMatch(message);
    }
    expect((await control(sim, "config", "{not json")).status).toBe(400);
    expect((await control(sim, "config", '{"a":"\u0000"}')).status).toBe(400);
    expect((await control(sim, "config", "[1,2]")).status).toBe(400);
    expect((await control(sim, "offers")).status).toBe(400);
    expect((await control(sim, "nowhere")).status).toBe(404);
    expect((await control(sim, "requests", {}, "POST")).status).toBe(405);
    const huge = await fetch(`${sim.url}/__sim/config`, { method: "POST", body: "x".repeat(1024 * 1024 + 1) });
    expect(huge.status).toBe(413);
    expect((await fetch(`${sim.url}/elsewhere`)).status).toBe(404);
    const hugeApi = await call(sim, "product_offer/read", undefined, { raw: " ".repeat(1024 * 1024 + 1) });
    expect(hugeApi.status).toBe(413);
    // Still healthy, config untouched.
    expect((await control(sim, "health")).status).toBe(200);
    expect((await control(sim, "config")).json).toMatchObject({ orderMode: "id", latency: { baseMs: 0 } });
    expect(await readPage(sim, 1)).toHaveLength(100);
  });

  it("runs as a script and prints EMAG_SIM_URL", async () => {
    const child = spawn(TSX, [SERVER_SCRIPT, "--port", "0", "--host", "127.0.0.1", "--seed", "1", "--offers", "120"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString("utf8");
          const match = /^EMAG_SIM_URL=(\S+)$/m.exec(out);
          if (match) resolve(match[1] as string);
        });
        child.once("exit", (code) => reject(new Error(`exited with ${code}: ${out}`)));
        child.once("error", reject);
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const response = await fetch(`${url}/api-3/product_offer/count`, {
        method: "POST",
        headers: { authorization: basic(USER, PASS) },
        body: "",
      });
      expect(((await response.json()) as Counts).results.noOfItems).toBe("120");
      expect(response.headers.get("x-ratelimit-limit-3second")).toBe("9");
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
  }, 20_000);
});
