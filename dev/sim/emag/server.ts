/**
 * A local stand-in for the eMAG Marketplace API (docs/local-services.md): the offer
 * read/count routes a catalogue sync uses, with the gateway's habits (Basic auth, IP
 * allow-list, per-account rate windows answering 429) and, on request, the failures
 * seen in real syncs (5xx bursts per account, hangs, garbled 200s, data changing under
 * the pager). Every knob defaults to the well-behaved API; all randomness comes from
 * the seed, so a scenario replays the same way.
 *
 *   POST {url}/api-3/product_offer/read | product_offer/count | order/read | order/count
 *   POST {url}/<platform>/api-3/…       the same, for any single path segment (emag-ro, …)
 *   {url}/__sim/…                        control API (control.ts)
 *
 *   tsx dev/sim/emag/server.ts [--port 0] [--host 127.0.0.1] [--seed 1] [--offers 2000]
 *       [--username dropflow] [--password dropflow-sim] [--config '{"rateLimit":{"enabled":false}}']
 * prints EMAG_SIM_URL=<url> once listening.
 */
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { logger } from "../../../lib/log/index.js";
import { listenOn } from "../../servers/listen.js";
import { BodyTooLarge, readBody, sendJson, sendTooLarge } from "../http.js";
import { createPrng, deriveSeed } from "../prng.js";
import { type AccountState, buildAccounts, checkAccounts, checkSeed, DEFAULT_ACCOUNT, type EmagSimAccountSeed } from "./accounts.js";
import {
  defaultConfig,
  EMAG_ROUTES,
  type EmagErrorKind,
  type EmagRoute,
  type EmagSimConfig,
  type EmagSimConfigPatch,
  delay,
  mergeConfig,
  SimInputError,
} from "./config.js";
import { handleControl } from "./control.js";
import { type EmagFault, FaultQueue } from "./faults.js";
import { applyMutation, checkMutations, type EmagMutation } from "./mutations.js";
import type { EmagOffer } from "./offers.js";
import { type RateDecision, RateLimiter } from "./rate-limit.js";
import { clientIp, MAX_ITEMS_PER_PAGE, type OfferFilters, parseBasicAuth, parseBody, type ReadParams } from "./request.js";

export type { EmagSimAccountSeed } from "./accounts.js";
export type {
  EmagErrorKind,
  EmagMutationOp,
  EmagMutationRule,
  EmagOutage,
  EmagRateRule,
  EmagRoute,
  EmagSimConfig,
  EmagSimConfigPatch,
} from "./config.js";
export type { EmagFault, EmagFaultKind } from "./faults.js";
export type { EmagMutation } from "./mutations.js";
export type { EmagOffer } from "./offers.js";

const log = logger("emag-sim");

export interface EmagSimulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 1. */
  seed?: number;
  /** Default: one account, dropflow / dropflow-sim with 2000 offers. */
  accounts?: EmagSimAccountSeed[];
  /** Merged into the defaults at start; reset() comes back to it. */
  config?: EmagSimConfigPatch;
}

export interface EmagRequestRecord {
  /** Epoch ms (simulator clock) when received. */
  at: number;
  /** e.g. "product_offer/read"; control calls (/__sim/*) are not logged. */
  route: string;
  /** The Basic username given (even a wrong one); null when there was none or it did not parse. */
  account: string | null;
  /** 0 while unanswered, and for ever for a hang or a client that left first. */
  status: number;
  latencyMs: number;
  page?: number;
  /** After clamping. */
  itemsPerPage?: number;
  /** Offers in a read answer. */
  results?: number;
  /** Why the answer was not the plain one: "rate_limit", "auth", "ip", "invalid", "outage", "scripted:<kind>", "random:<kind>", "hang", "slow". */
  fault?: string;
}

export interface EmagSimulator {
  /** http://host:port; clients use `${url}/api-3` (or `${url}/<platform>/api-3`). */
  url: string;
  port: number;
  /** Back to the seeded data, the start-up config, an empty request log, no faults and the real clock. */
  reset(): void;
  /** New data from this seed and these accounts (config, faults and the log are kept); reset() comes back to it. */
  seed(seed: number, accounts: EmagSimAccountSeed[]): void;
  /** Deep-merged into the current config (arrays replace); throws SimInputError on a bad patch. */
  configure(patch: EmagSimConfigPatch): void;
  config(): EmagSimConfig;
  addFaults(faults: EmagFault[]): void;
  /** Applies data changes now. */
  mutate(account: string, ops: EmagMutation[]): void;
  /** API calls only (not /__sim/*), oldest first. */
  requests(): EmagRequestRecord[];
  /** Copies of the account's current offers, in id order. */
  offers(account: string): EmagOffer[];
  /** Moves the simulator's clock (rate windows, outages, `at`) forward; delays stay real. */
  advanceClock(ms: number): void;
  close(): Promise<void>;
}

const MAX_LOGGED_REQUESTS = 100_000;
const API_PATH = /^\/(?:[^/]+\/)?api-3\/(.*?)\/*$/;
const GENERIC_ERROR = "An error occurred while processing the request. Please try again later.";
/** Kong's own answer when no upstream is available. */
const KONG_503 = { message: "failure to get a peer from the ring-balancer" };

interface Answer {
  status: number;
  body: string;
  contentType: string;
  headers?: Record<string, string>;
  /** Offers in a read answer, for perItemMs and the log. */
  results?: number;
  fault?: string;
  hang?: boolean;
  /** Replaces the configured latency. */
  delayMs?: number;
  /** Added to the configured latency. */
  extraDelayMs?: number;
}

type Message = { code: string; text: string };

/** Drawn for every API call in the same order, whatever the knobs, so changing one knob does not reshuffle the others. */
interface Rolls {
  hang: number;
  slow: number;
  jitter: number;
  error: number;
  errorKind: number;
  errorStatus: number;
  outageStatus: number;
}

export async function startEmagSimulator(options: EmagSimulatorOptions = {}): Promise<EmagSimulator> {
  const host = options.host ?? "127.0.0.1";
  let seedValue = checkSeed(options.seed ?? 1);
  let accountSeeds = checkAccounts(options.accounts ?? [DEFAULT_ACCOUNT]);
  const startConfig = mergeConfig(defaultConfig(), options.config ?? {});
  let config = structuredClone(startConfig);
  let accounts = buildAccounts(seedValue, accountSeeds);
  let requestPrng = createPrng(deriveSeed(seedValue, "requests"));
  let orderPrng = createPrng(deriveSeed(seedValue, "order"));
  const limiter = new RateLimiter();
  const faults = new FaultQueue();
  let log_: EmagRequestRecord[] = [];
  let clockOffset = 0;
  const timers = new Set<NodeJS.Timeout>();
  let closing: Promise<void> | null = null;
  const now = () => Date.now() + clockOffset;

  function reseedStreams(): void {
    requestPrng = createPrng(deriveSeed(seedValue, "requests"));
    orderPrng = createPrng(deriveSeed(seedValue, "order"));
  }

  function account(username: string): AccountState {
    const state = accounts.get(username);
    if (!state) throw new SimInputError(`no account ${JSON.stringify(username)}`);
    return state;
  }

  function record(entry: EmagRequestRecord): void {
    log_.push(entry);
    if (log_.length > MAX_LOGGED_REQUESTS) log_ = log_.slice(-Math.floor(MAX_LOGGED_REQUESTS * 0.9));
  }

  function drawRolls(): Rolls {
    const next = requestPrng.next;
    return { hang: next(), slow: next(), jitter: next(), error: next(), errorKind: next(), errorStatus: next(), outageStatus: next() };
  }

  // ── answers ──────────────────────────────────────────────────────────────

  function messages(list: readonly Message[]): unknown[] {
    return config.messagesShape === "objects" ? list.map((m) => ({ code: m.code, message: m.text })) : list.map((m) => m.text);
  }

  function envelopeAnswer(status: number, isError: boolean, list: readonly Message[], results: unknown, fault?: string): Answer {
    return { status, body: JSON.stringify({ isError, messages: messages(list), results }), contentType: "application/json", fault };
  }

  function isErrorAnswer(code: string, text: string, fault: string, status = 200): Answer {
    return envelopeAnswer(status, true, [{ code, text }], [], fault);
  }

  function rateLimitedAnswer(rate: RateDecision | null, fault: string): Answer {
    const limit = rate?.limit3s ?? config.rateLimit.other.perSecond * 3;
    return {
      status: 429,
      body: JSON.stringify({ message: "API rate limit exceeded" }),
      contentType: "application/json",
      headers: {
        "X-RateLimit-Limit-3second": String(limit),
        "X-RateLimit-Remaining-3second": "0",
        Server: "kong",
        ...(config.rateLimit.retryAfterHeader ? { "Retry-After": "1" } : {}),
      },
      fault,
    };
  }

  /** An HTTP error as the layer that produces it would word it: nginx for 502/504, Kong for 503. */
  function httpErrorAnswer(status: number, fault: string, rate: RateDecision | null, message?: string): Answer {
    if (status === 429) return rateLimitedAnswer(rate, fault);
    if (status === 502 || status === 504) {
      const title = status === 502 ? "502 Bad Gateway" : "504 Gateway Time-out";
      return {
        status,
        body: `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
        contentType: "text/html",
        fault,
      };
    }
    if (status === 503 && message === undefined) {
      return { status, body: JSON.stringify(KONG_503), contentType: "application/json", fault };
    }
    return isErrorAnswer("error", message ?? STATUS_CODES[status] ?? "Error", fault, status);
  }

  /** The garbled 200s a client must refuse to take as data; `real` is the answer it replaces. */
  function garbledAnswer(kind: Exclude<EmagErrorKind, "http">, real: Answer, fault: string, message?: string): Answer {
    switch (kind) {
      case "isError":
        return isErrorAnswer("error", message ?? GENERIC_ERROR, fault);
      case "empty_body":
        return { status: 200, body: "", contentType: "application/json", fault };
      case "invalid_json":
        return { status: 200, body: real.body.slice(0, Math.max(1, Math.floor(real.body.length / 2))), contentType: "application/json", fault };
      case "no_isError": {
        const parsed = JSON.parse(real.body) as Record<string, unknown>;
        delete parsed.isError;
        return { ...real, body: JSON.stringify(parsed), fault };
      }
    }
  }

  // ── the routes ───────────────────────────────────────────────────────────

  function select(state: AccountState, filters: OfferFilters): readonly EmagOffer[] {
    let list: readonly EmagOffer[] = config.orderMode === "insertion" ? state.store.insertionOrder() : state.store.byId();
    const { id, status, part_number: partNumber, part_number_key: pnk } = filters;
    if (id !== undefined || status !== undefined || partNumber !== undefined || pnk !== undefined) {
      list = list.filter(
        (offer) =>
          (id === undefined || offer.id === id) &&
          (status === undefined || offer.status === status) &&
          (partNumber === undefined || offer.part_number === partNumber) &&
          (pnk === undefined || offer.part_number_key === pnk),
      );
    }
    if (config.orderMode === "random-per-request") {
      const shuffled = list.slice();
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = orderPrng.int(0, i);
        const tmp = shuffled[i] as EmagOffer;
        shuffled[i] = shuffled[j] as EmagOffer;
        shuffled[j] = tmp;
      }
      list = shuffled;
    }
    return list;
  }

  function wire(offer: EmagOffer): unknown {
    return config.offerValidationShape === "list" ? { ...offer, offer_validation_status: [offer.offer_validation_status] } : offer;
  }

  function count(value: number): number | string {
    return config.countAsStrings ? String(value) : value;
  }

  /** The plain answer of a known route; `served` is set for a read that returned data (mutations follow it). */
  function execute(route: EmagRoute, state: AccountState, params: ReadParams, itemsPerPage: number): { answer: Answer; served: EmagOffer[] | null } {
    if (route === "order/read") return { answer: envelopeAnswer(200, false, [], []), served: null };
    if (route === "order/count") {
      return { answer: envelopeAnswer(200, false, [], { noOfItems: count(0), noOfPages: count(0), itemsPerPage: count(itemsPerPage) }), served: null };
    }
    const list = select(state, params.filters);
    if (route === "product_offer/count") {
      const pages = Math.ceil(list.length / itemsPerPage);
      return {
        answer: envelopeAnswer(200, false, [], { noOfItems: count(list.length), noOfPages: count(pages), itemsPerPage: count(itemsPerPage) }),
        served: null,
      };
    }
    const offset = (params.currentPage - 1) * itemsPerPage;
    const page = offset >= list.length ? [] : list.slice(offset, offset + itemsPerPage);
    const answer = envelopeAnswer(200, false, [], page.map(wire));
    answer.results = page.length;
    return { answer, served: page };
  }

  function afterServedRead(state: AccountState, served: readonly EmagOffer[]): void {
    if (served.length > 0) state.lastServedId = Math.max(...served.map((offer) => offer.id));
    for (const rule of config.mutation.perRequest) {
      if (state.mutationPrng.next() >= rule.probability) continue;
      applyMutation(state.store, state.factory, state.mutationPrng, { op: rule.op, count: rule.count }, defaultBelowId(state));
    }
  }

  function defaultBelowId(state: AccountState): number {
    const ids = state.store.byId();
    return state.lastServedId ?? (ids[ids.length - 1]?.id ?? 1000) + 1;
  }

  // ── one API call ─────────────────────────────────────────────────────────

  async function apiCall(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    const started = Date.now();
    const at = now();
    const cfg = config;
    const entry: EmagRequestRecord = { at, route: route.slice(0, 200), account: null, status: 0, latencyMs: 0 };
    record(entry);
    const credentials = parseBasicAuth(req.headers.authorization);
    entry.account = credentials?.username ?? null;
    const ip = clientIp(req, cfg.ipHeader);
    const rolls = drawRolls();
    const bucket = route.startsWith("order/") ? "orders" : "other";
    // Without a username the gateway can only tell callers apart by address.
    const rateKey = `${credentials ? `user:${credentials.username}` : `ip:${ip}`}|${bucket}`;
    const rate = cfg.rateLimit.enabled ? limiter.check(rateKey, cfg.rateLimit[bucket], cfg.rateLimit.penaltyMs, at) : null;

    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        entry.status = 413;
        entry.fault = "too_large";
        sendTooLarge(res, error, { isError: true, messages: [error.message], results: [] });
      }
      return;
    }
    if (rate && !rate.allowed) {
      send(res, entry, started, rateLimitedAnswer(rate, "rate_limit"), 0);
      return;
    }
    const answer = decide(req, route, credentials, ip, body, rolls, rate, entry);
    const rateHeaders: Record<string, string> = rate
      ? { "X-RateLimit-Limit-3second": String(rate.limit3s), "X-RateLimit-Remaining-3second": String(rate.remaining3s) }
      : {};
    answer.headers = { ...rateHeaders, ...answer.headers };
    if (answer.hang === undefined && rolls.hang < cfg.latency.hangProbability) answer.hang = true;
    let wait: number;
    if (answer.delayMs !== undefined) {
      wait = answer.delayMs;
    } else if (rolls.slow < cfg.latency.slowProbability) {
      wait = cfg.latency.slowMs;
      answer.fault ??= "slow";
    } else {
      wait = cfg.latency.baseMs + cfg.latency.perItemMs * (answer.results ?? 0) + rolls.jitter * cfg.latency.jitterMs;
    }
    send(res, entry, started, answer, wait + (answer.extraDelayMs ?? 0));
  }

  function decide(
    req: IncomingMessage,
    route: string,
    credentials: { username: string; password: string } | null,
    ip: string,
    body: Buffer,
    rolls: Rolls,
    rate: RateDecision | null,
    entry: EmagRequestRecord,
  ): Answer {
    if (req.method !== "POST") {
      const answer = isErrorAnswer("method", "The API accepts POST requests only.", "invalid", 405);
      answer.headers = { Allow: "POST" };
      return answer;
    }
    const state = credentials ? accounts.get(credentials.username) : undefined;
    if (!credentials || !state || state.seed.password !== credentials.password) {
      return isErrorAnswer("auth", "You are not allowed to use this API.", "auth", config.authFailStatus);
    }
    const allowed = state.seed.allowedIps ?? [];
    if (allowed.length > 0 && !allowed.includes(ip)) {
      return isErrorAnswer("ip", `ERROR: Invalid vendor ip [${ip}]`, "ip");
    }
    if (!(EMAG_ROUTES as readonly string[]).includes(route)) {
      return isErrorAnswer("not_found", `Resource ${route} does not exist.`, "invalid", 404);
    }
    const known = route as EmagRoute;
    const parsed = parseBody(body, req.headers["content-type"]);
    let itemsPerPage = 0;
    if (parsed.ok) {
      itemsPerPage = Math.min(parsed.params.itemsPerPage, MAX_ITEMS_PER_PAGE);
      entry.page = parsed.params.currentPage;
      entry.itemsPerPage = itemsPerPage;
    }
    // Built lazily: only a fault that garbles the real answer (or no fault at all) needs it.
    const real = (): { answer: Answer; served: EmagOffer[] | null } => {
      if (!parsed.ok) return { answer: isErrorAnswer("validation", parsed.message, "invalid"), served: null };
      if (parsed.params.itemsPerPage > MAX_ITEMS_PER_PAGE && config.overMaxMode === "isError") {
        return {
          answer: isErrorAnswer("validation", `Invalid value for itemsPerPage: the maximum is ${MAX_ITEMS_PER_PAGE}.`, "invalid"),
          served: null,
        };
      }
      return execute(known, state, parsed.params, itemsPerPage);
    };

    const fault = faults.take(known, credentials.username, parsed.ok ? parsed.params.currentPage : undefined);
    if (fault) return scriptedAnswer(fault, real, rate, state);

    const outage = config.outages.find((o) => o.account === credentials.username && entry.at >= o.from && entry.at < o.to);
    if (outage) {
      const status = outage.statuses[Math.floor(rolls.outageStatus * outage.statuses.length)] as number;
      return httpErrorAnswer(status, "outage", rate);
    }
    const errors = config.errors;
    if ((errors.routes.length === 0 || errors.routes.includes(known)) && rolls.error < errors.probability) {
      const kind = errors.kinds[Math.floor(rolls.errorKind * errors.kinds.length)] as EmagErrorKind;
      if (kind === "http") {
        return httpErrorAnswer(errors.statuses[Math.floor(rolls.errorStatus * errors.statuses.length)] as number, "random:http", rate);
      }
      return garbledAnswer(kind, real().answer, `random:${kind}`);
    }
    const { answer, served } = real();
    if (served) afterServedRead(state, served);
    return answer;
  }

  function scriptedAnswer(
    fault: EmagFault["respond"],
    real: () => { answer: Answer; served: EmagOffer[] | null },
    rate: RateDecision | null,
    state: AccountState,
  ): Answer {
    const kind = fault.kind ?? "http";
    const label = `scripted:${kind}`;
    let answer: Answer;
    switch (kind) {
      case "hang":
        return { status: 0, body: "", contentType: "application/json", hang: true, fault: label };
      case "slow": {
        const { answer: plain, served } = real();
        if (served) afterServedRead(state, served);
        return { ...plain, fault: label, delayMs: fault.delayMs ?? config.latency.slowMs, hang: false };
      }
      case "empty_results":
        answer = envelopeAnswer(200, false, [], [], label);
        answer.results = 0;
        break;
      case "http": {
        const status = fault.status ?? 500;
        answer = status < 300 ? { ...real().answer, status, fault: label } : httpErrorAnswer(status, label, rate, fault.message);
        break;
      }
      default:
        answer = garbledAnswer(kind, real().answer, label, fault.message);
    }
    // A scripted answer is never turned into a random hang: the script says what happens.
    answer.hang = false;
    if (fault.delayMs !== undefined) answer.extraDelayMs = fault.delayMs;
    return answer;
  }

  function send(res: ServerResponse, entry: EmagRequestRecord, started: number, answer: Answer, wait: number): void {
    if (answer.fault !== undefined) entry.fault = answer.fault;
    if (answer.results !== undefined) entry.results = answer.results;
    if (answer.hang) {
      // Accepted and never answered; server.close() drops the socket.
      entry.fault = answer.fault?.startsWith("scripted:") ? answer.fault : "hang";
      return;
    }
    const write = () => {
      if (res.destroyed || res.writableEnded) return;
      entry.status = answer.status;
      entry.latencyMs = Date.now() - started;
      res.writeHead(answer.status, {
        ...answer.headers,
        "Content-Type": answer.contentType,
        "Content-Length": String(Buffer.byteLength(answer.body)),
      });
      res.end(answer.body);
    };
    if (wait <= 0) {
      write();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      write();
    }, Math.min(wait, 2_147_483_647));
    timers.add(timer);
    res.once("close", () => {
      clearTimeout(timer);
      timers.delete(timer);
    });
  }

  // ── the server ───────────────────────────────────────────────────────────

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error("emag simulator: request failed", { url: req.url, err: error });
      if (!res.headersSent) sendJson(res, 500, { error: "simulator error" });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://sim.invalid");
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      req.resume();
      sendJson(res, 400, { error: "the request target is not a valid URL" });
      return;
    }
    if (url.pathname === "/__sim" || url.pathname.startsWith("/__sim/")) {
      await handleControl(req, res, url, control);
      return;
    }
    const api = API_PATH.exec(url.pathname);
    if (!api) {
      req.resume();
      sendJson(res, 404, { error: `no route ${url.pathname}; the API is under /api-3/ (or /<platform>/api-3/)` });
      return;
    }
    await apiCall(req, res, api[1] as string);
  }

  const simulator = {
    url: "",
    port: 0,
    reset(): void {
      config = structuredClone(startConfig);
      accounts = buildAccounts(seedValue, accountSeeds);
      reseedStreams();
      limiter.clear();
      faults.clear();
      log_ = [];
      clockOffset = 0;
    },
    seed(seed: number, seeds: EmagSimAccountSeed[]): void {
      const checkedSeed = checkSeed(seed);
      const checkedAccounts = checkAccounts(seeds);
      seedValue = checkedSeed;
      accountSeeds = checkedAccounts;
      accounts = buildAccounts(seedValue, accountSeeds);
      reseedStreams();
    },
    configure(patch: EmagSimConfigPatch): void {
      config = mergeConfig(config, patch);
    },
    config(): EmagSimConfig {
      return structuredClone(config);
    },
    addFaults(list: EmagFault[]): void {
      faults.add(list);
    },
    mutate(username: string, ops: EmagMutation[]): void {
      const state = account(username);
      for (const op of checkMutations(ops)) applyMutation(state.store, state.factory, state.mutationPrng, op, defaultBelowId(state));
    },
    requests(): EmagRequestRecord[] {
      return log_.map((entry) => ({ ...entry }));
    },
    offers(username: string): EmagOffer[] {
      return structuredClone(account(username).store.byId()) as EmagOffer[];
    },
    advanceClock(ms: number): void {
      delay(ms, "advanceClock ms");
      clockOffset += ms;
    },
    close(): Promise<void> {
      if (!closing) {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        closing = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
        // Hung and keep-alive connections would hold close() open for ever.
        server.closeAllConnections();
      }
      return closing;
    },
  } satisfies EmagSimulator;

  const control = {
    reset: simulator.reset,
    seed: simulator.seed,
    currentSeed: () => ({ seed: seedValue, accounts: structuredClone(accountSeeds) }),
    config: simulator.config,
    configure: (patch: unknown) => simulator.configure(patch as EmagSimConfigPatch),
    addFaults: (list: unknown) => simulator.addFaults(list as EmagFault[]),
    faults: () => faults.list(),
    mutate: (username: string, ops: unknown) => simulator.mutate(username, ops as EmagMutation[]),
    requests: simulator.requests,
    offers: simulator.offers,
    accountSizes: () => [...accounts.values()].map((state) => ({ username: state.seed.username, offers: state.store.size })),
    now,
    advanceClock: simulator.advanceClock,
  };

  const port = await listenOn(server, options.port ?? 0, host);
  simulator.port = port;
  simulator.url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return simulator;
}

// ── standalone ──────────────────────────────────────────────────────────────

function cliValues(usage: string) {
  try {
    return parseArgs({
      options: {
        port: { type: "string", default: "0" },
        host: { type: "string", default: "127.0.0.1" },
        seed: { type: "string", default: "1" },
        offers: { type: "string", default: String(DEFAULT_ACCOUNT.offers) },
        username: { type: "string", default: DEFAULT_ACCOUNT.username },
        password: { type: "string", default: DEFAULT_ACCOUNT.password },
        config: { type: "string" },
      },
    }).values;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
    process.exit(2);
  }
}

const invokedAsScript =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;

if (invokedAsScript) {
  const usage =
    "usage: tsx dev/sim/emag/server.ts [--port 0] [--host 127.0.0.1] [--seed 1] [--offers 2000]" +
    " [--username dropflow] [--password dropflow-sim] [--config JSON]\n";
  const values = cliValues(usage);
  const numbers = { port: Number(values.port), seed: Number(values.seed), offers: Number(values.offers) };
  for (const [name, value] of Object.entries(numbers)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      process.stderr.write(`--${name} must be a non-negative integer\n${usage}`);
      process.exit(2);
    }
  }
  let simulator: EmagSimulator;
  try {
    simulator = await startEmagSimulator({
      port: numbers.port,
      host: values.host,
      seed: numbers.seed,
      accounts: [{ username: values.username, password: values.password, offers: numbers.offers }],
      config: values.config === undefined ? undefined : (JSON.parse(values.config) as EmagSimConfigPatch),
    });
  } catch (error) {
    process.stderr.write(`emag simulator: ${error instanceof Error ? error.message : String(error)}\n${usage}`);
    process.exit(2);
  }
  process.stdout.write(
    `emag simulator: listening on ${simulator.url} (${numbers.offers} offers for ${values.username}, seed ${numbers.seed})\n` +
      `EMAG_SIM_URL=${simulator.url}\n`,
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      simulator.close().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`emag simulator: could not close cleanly: ${String(error)}\n`);
          process.exit(1);
        },
      );
    });
  }
}
