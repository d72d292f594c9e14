/**
 * A local SAP Business One Service Layer: the part our catalogue sync uses (Login, Logout,
 * Items with OData query options and server-driven paging, Items/$count, Items('code'))
 * with the failure modes of docs/local-services.md, switchable at run time, so that the client
 * can be tested against what real installations do. Specification: docs/local-services.md
 *
 *   POST /b1s/v1/Login            {CompanyDB, UserName, Password} → B1SESSION and ROUTEID cookies
 *   POST /b1s/v1/Logout           204
 *   GET  /b1s/v1/Items            $select $filter $orderby $skip $top $inlinecount; Prefer / B1S-PageSize
 *   GET  /b1s/v1/Items/$count     text/plain integer ($filter)
 *   GET  /b1s/v1/Items('A000001') one item, or 404 code -2028
 *   GET  /b1s/v1/$metadata        a stub listing the Item properties
 *   /__sim/…                      control API (control.ts)
 * /b1s/v2/… serves the same; the annotation names follow the `odataVersion` knob.
 *
 * Every knob (types.ts, SapSimConfig) defaults to a well-behaved server; in particular
 * Login answers at once (`loginMs` 0) where the real one takes ~1.5 s (and a wrong
 * password ~5 s: `badLoginMs`). Latency is applied per request, concurrently, unless
 * `perSessionConcurrency` queues a session's requests. Gateway faults (scripted with
 * addFaults, or random with `errors`) act before the Service Layer does: the request never
 * reaches the session check, so it neither refreshes nor counts against a session.
 * A Login the client gave up on still creates its session, as the real one does (it
 * counts against `maxSessionsPerUser` until it times out).
 *
 * All randomness comes from streams derived from the seed (data, run-time draws,
 * mutations), and dates from a reference day derived from the seed, never today.
 *
 *   tsx dev/sim/sap/server.ts [--port 0] [--host 127.0.0.1] [--seed 1] [--items 2000]
 *     [--company SBODEMO] [--user manager] [--password sim-password] [--config '{"latency":{"baseMs":100}}']
 * prints SAP_SIM_URL=<base url>; clients use <base url>/b1s/v1.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { logger } from "../../../lib/log/index.js";
import { type Prng, createPrng, deriveSeed } from "../prng.js";
import { listenOn } from "../../servers/listen.js";
import {
  DEFAULT_COMPANY,
  defaultConfig,
  mergeConfig,
  parseCompanies,
  parseFaults,
  parseMutations,
  parseSeed,
  SimInputError,
} from "./config.js";
import { type ControlTarget, handleControl, UnknownCompany } from "./control.js";
import { invalidQuery, ITEM_FIELDS, printable, SlError } from "./fields.js";
import { Company, referenceDay } from "./items.js";
import { nextQuery, page, parseItemsQuery, parseSelect, project, selectRows } from "./query.js";
import {
  BodyTooLarge,
  countGarbagePage,
  gatewayTimeoutPage,
  HTML,
  proxyErrorPage,
  JSON_TYPE,
  readBody,
  send,
  sendEmpty,
  sendJson,
  sendPlainJson,
  sendSlError,
  sendText,
  serviceUnavailablePage,
  slErrorBody,
} from "./responses.js";
import { parseCookies, type Session, Sessions } from "./sessions.js";
import type {
  SapFault,
  SapItem,
  SapRequestRecord,
  SapSimCompanySeed,
  SapSimConfigPatch,
  SapSimulator,
  SapSimulatorOptions,
} from "./types.js";

export type {
  SapFault,
  SapFaultKind,
  SapFaultRoute,
  SapItem,
  SapMutation,
  SapMutationOp,
  SapRequestRecord,
  SapSimCompanySeed,
  SapSimConfig,
  SapSimConfigPatch,
  SapSimulator,
  SapSimulatorOptions,
  SapYesNo,
} from "./types.js";
export { defaultConfig as defaultSapSimConfig } from "./config.js";

const log = logger("sap-sim");

/** What the real one reports for 10.0 FP 2311-ish; clients only echo it. */
const SL_VERSION = "1000110";
/** The request log keeps this many records (the oldest go first): a long benchmark must not eat memory. */
const MAX_LOG_RECORDS = 50_000;
const DEFAULT_SLOW_MS = 90_000;
const DAY_MS = 86_400_000;

const INVALID_SESSION = { code: 301, message: "Invalid session or session already timeout." };
const LOGIN_FAILED = { code: 100000027, message: "Login failed" };
const USER_LOCKED = { code: 100000055, message: "User account is locked" };
const NO_DB_CREDENTIALS = { code: -304, message: "Fail to get DB Credentials from SLD server" };
/** Invented (no documented code for the licence cap), in the range of the real login codes. */
const LICENSE_CAP = 100000048;
const NOT_FOUND = { code: -2028, message: "No matching records found (ODBC -2028)" };

type RouteName = "Login" | "Logout" | "Items" | "Items/$count" | "Items('code')" | "$metadata";

interface Route {
  name: RouteName | string;
  known: boolean;
  /** Items('…'): the key. */
  key?: string;
}

function routeOf(subpath: string): Route {
  switch (subpath) {
    case "Login":
    case "Logout":
    case "Items":
    case "Items/$count":
    case "$metadata":
      return { name: subpath, known: true };
  }
  const single = /^Items\('((?:[^']|'')*)'\)$/.exec(subpath);
  if (single) return { name: "Items('code')", known: true, key: (single[1] as string).replace(/''/g, "'") };
  return { name: printable(subpath, 100), known: false };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" ? value : Array.isArray(value) ? value[0] : undefined;
}

/** The request's $skip as a fault sees it: absent is 0, unreadable matches no skip. */
function skipOf(rawQuery: string): number | null {
  for (const piece of rawQuery.split("&")) {
    const eq = piece.indexOf("=");
    const name = eq === -1 ? piece : piece.slice(0, eq);
    if (name !== "$skip" && name.toLowerCase() !== "%24skip") continue;
    const value = eq === -1 ? "" : piece.slice(eq + 1);
    return /^\d{1,10}$/.test(value) ? Number(value) : null;
  }
  return 0;
}

export async function startSapSimulator(options: SapSimulatorOptions = {}): Promise<SapSimulator> {
  const startSeed = parseSeed(options.seed ?? 1);
  const startCompanies = parseCompanies(options.companies ?? [DEFAULT_COMPANY]);
  const startConfig = mergeConfig(defaultConfig(), options.config ?? {});

  let seed = startSeed;
  let companySeeds = startCompanies;
  let config = structuredClone(startConfig);
  let companies = new Map<string, Company>();
  // Separate streams: changing, say, the jitter does not change which items a mutation picks.
  let runtime: Prng = createPrng(0);
  let mutations: Prng = createPrng(0);
  let offsetMs = 0;
  let faults: SapFault[] = [];
  let records: SapRequestRecord[] = [];
  const now = () => Date.now() + offsetMs;
  const sessions = new Sessions(now, () => config);
  const timers = new Set<NodeJS.Timeout>();
  let baseUrl = "";

  function load(newSeed: number, seeds: SapSimCompanySeed[]): void {
    seed = newSeed;
    companySeeds = seeds;
    companies = new Map(seeds.map((company) => [company.companyDb, new Company(newSeed, company)]));
    runtime = createPrng(deriveSeed(newSeed, "sap-runtime"));
    mutations = createPrng(deriveSeed(newSeed, "sap-mutations"));
  }
  load(startSeed, startCompanies);

  function sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  }

  /** When a change made now happens: the reference day's noon, moved by the clock offset. */
  function changeTime() {
    return { at: referenceDay(seed) + DAY_MS / 2 + offsetMs };
  }

  function latencyFor(rows: number): number {
    const { baseMs, perRowMs, jitterMs } = config.latency;
    return baseMs + perRowMs * rows + (jitterMs > 0 ? runtime.next() * jitterMs : 0);
  }

  function companyNamed(companyDb: string): Company {
    const company = companies.get(companyDb);
    if (company === undefined) throw new UnknownCompany(companyDb);
    return company;
  }

  function mutateNow(companyDb: string, ops: unknown): void {
    const company = companyNamed(companyDb);
    for (const op of parseMutations(ops)) company.mutate(op.op, op.count, mutations, changeTime(), op.before);
  }

  function takeFault(route: string, skip: number | null): SapFault["respond"] | null {
    for (let i = 0; i < faults.length; i++) {
      const fault = faults[i] as SapFault;
      const routeMatches = (fault.route ?? "*") === "*" || fault.route === route;
      const skipMatches = fault.skip === undefined || (skip !== null && skip === fault.skip);
      if (!routeMatches || !skipMatches) continue;
      fault.times -= 1;
      if (fault.times <= 0) faults.splice(i, 1);
      return { ...fault.respond };
    }
    return null;
  }

  function pushRecord(record: SapRequestRecord): void {
    records.push(record);
    if (records.length > MAX_LOG_RECORDS) records = records.slice(records.length - Math.floor(MAX_LOG_RECORDS * 0.9));
  }

  function invalidSession(res: ServerResponse): void {
    sendSlError(res, config.invalidSessionStatus, INVALID_SESSION.code, INVALID_SESSION.message);
  }

  /**
   * A gateway fault's answer. True when the request is dealt with (answered, or left
   * hanging); false for "slow", after whose wait the request is served as usual.
   */
  async function fault(
    respond: SapFault["respond"],
    req: IncomingMessage,
    res: ServerResponse,
    cookies: Map<string, string>,
  ): Promise<boolean> {
    if (respond.kind === "slow") {
      await sleep(respond.delayMs ?? DEFAULT_SLOW_MS);
      return res.destroyed;
    }
    req.resume();
    // A hung request holds its connection until the client gives up or the simulator closes.
    if (respond.kind === "hang") return true;
    await sleep(respond.delayMs ?? 0);
    const target = (req.url ?? "/").split("?")[0] as string;
    switch (respond.kind) {
      case "json500":
        sendSlError(res, 500, -1, "Internal Server Error");
        break;
      case "empty500":
        sendEmpty(res, 500);
        break;
      case "proxy502":
        sendText(res, 502, proxyErrorPage(req.method ?? "GET", target), HTML);
        break;
      case "503":
        sendText(res, 503, serviceUnavailablePage(), HTML);
        break;
      case "504":
        sendText(res, 504, gatewayTimeoutPage(req.method ?? "GET", target), HTML);
        break;
      case "invalidSession": {
        // The Service Layer forgot the session: it is gone for good, not just for this answer.
        const id = cookies.get("B1SESSION");
        if (id !== undefined) sessions.end(id);
        invalidSession(res);
        break;
      }
    }
    return true;
  }

  async function login(req: IncomingMessage, res: ServerResponse, prefix: string, record: SapRequestRecord): Promise<void> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readBody(req));
    } catch (error) {
      if (error instanceof SyntaxError) throw invalidQuery(`The Login body is not valid JSON: ${error.message}`);
      throw error;
    }
    const body = (parsed !== null && typeof parsed === "object" ? parsed : {}) as Record<string, unknown>;
    const { CompanyDB, UserName, Password } = body;
    if (typeof CompanyDB !== "string" || typeof UserName !== "string" || typeof Password !== "string") {
      throw invalidQuery("Login needs CompanyDB, UserName and Password as strings");
    }
    const fail = async (status: number, error: { code: number; message: string }) => {
      await sleep(config.badLoginMs);
      sendSlError(res, status, error.code, error.message);
    };
    const company = companies.get(CompanyDB);
    if (company === undefined) return fail(401, NO_DB_CREDENTIALS);
    const user = company.users.get(UserName);
    if (user === undefined) return fail(401, LOGIN_FAILED);
    if (user.locked) return fail(401, USER_LOCKED);
    if (user.password !== Password) return fail(401, LOGIN_FAILED);
    const cap = config.maxSessionsPerUser;
    if (cap > 0 && sessions.countFor(CompanyDB, UserName) >= cap) {
      return fail(401, {
        code: LICENSE_CAP,
        message: `License cap reached: user ${printable(UserName)} already has ${cap} session(s) open, the most the license allows`,
      });
    }
    await sleep(config.loginMs);
    const session = sessions.create(CompanyDB, UserName);
    record.session = session.id;
    const metadata = `${baseUrl}${prefix}/$metadata#B1Sessions`;
    const answer =
      config.odataVersion === 1
        ? { "odata.metadata": `${metadata}/@Element`, SessionId: session.id, Version: SL_VERSION, SessionTimeout: config.sessionTimeoutMin }
        : { "@odata.context": `${metadata}/$entity`, SessionId: session.id, Version: SL_VERSION, SessionTimeout: config.sessionTimeoutMin };
    const b1session =
      config.cookieStyle === "odd" ? `B1SESSION=${session.id};HttpOnly;` : `B1SESSION=${session.id}; Path=/b1s; HttpOnly`;
    sendJson(res, 200, answer, { "set-cookie": [b1session, `ROUTEID=.node${session.node}; path=/b1s`] });
  }

  /** The page size the request asks for (Prefer wins over B1S-PageSize), capped. */
  function pageSizeFor(req: IncomingMessage): { size: number; preferenceApplied: string | null } {
    let requested: number | null = null;
    let viaPrefer = false;
    const prefer = header(req, "prefer");
    const preferred = prefer === undefined ? null : /(?:^|[,;\s])odata\.maxpagesize\s*=\s*"?(\d{1,9})"?/i.exec(prefer);
    if (preferred) {
      requested = Number(preferred[1]);
      viaPrefer = true;
    } else {
      const b1s = header(req, "b1s-pagesize");
      if (b1s !== undefined) {
        if (!/^\s*\d{1,9}\s*$/.test(b1s)) throw invalidQuery(`Invalid B1S-PageSize '${printable(b1s)}': a non-negative integer is expected`);
        requested = Number(b1s);
      }
    }
    let size = requested ?? config.defaultPageSize;
    if (size > 0 && config.maxPageSize > 0) size = Math.min(size, config.maxPageSize);
    return { size, preferenceApplied: viaPrefer ? `odata.maxpagesize=${size}` : null };
  }

  function baseOrder(company: Company, ordered: boolean): readonly SapItem[] {
    if (config.defaultOrder === "insertion") return company.inInsertionOrder();
    if (config.defaultOrder === "unstable-when-no-orderby" && !ordered) {
      const rows = company.inCodeOrder().slice();
      for (let i = rows.length - 1; i > 0; i--) {
        const j = runtime.int(0, i);
        [rows[i], rows[j]] = [rows[j] as SapItem, rows[i] as SapItem];
      }
      return rows;
    }
    return company.inCodeOrder();
  }

  async function items(req: IncomingMessage, res: ServerResponse, prefix: string, rawQuery: string, company: Company) {
    const query = parseItemsQuery(rawQuery, config.odataVersion);
    const { size, preferenceApplied } = pageSizeFor(req);
    const ordered = query.orderBy.length > 0;
    const rows = selectRows(baseOrder(company, ordered), query, config.defaultOrder === "ItemCode" || (ordered && config.defaultOrder !== "insertion"));
    const served = page(rows, query, size);
    const v1 = config.odataVersion === 1;
    const body: Record<string, unknown> = { [v1 ? "odata.metadata" : "@odata.context"]: `${baseUrl}${prefix}/$metadata#Items` };
    if (query.inlineCount) body[v1 ? "odata.count" : "@odata.count"] = v1 ? String(served.total) : served.total;
    body.value = served.rows.map((item) => project(item, query.select));
    if (served.next) {
      const next = nextQuery(query, served.next, config.nextLinkStyle === "drops-filter");
      body[v1 ? "odata.nextLink" : "@odata.nextLink"] = config.nextLinkStyle === "relative" ? `Items?${next}` : `${prefix}/Items?${next}`;
    }
    // Serialised before the wait: the page is what the database held when it was read.
    const text = JSON.stringify(body);
    await sleep(latencyFor(served.rows.length));
    if (res.destroyed) return;
    const headers: Record<string, string> = {};
    if (preferenceApplied !== null) headers["preference-applied"] = preferenceApplied;
    send(res, 200, JSON_TYPE, text, headers);
    afterServedPage(company, served.rows);
  }

  function afterServedPage(company: Company, rows: SapItem[]): void {
    const last = rows.at(-1)?.ItemCode;
    for (const op of config.mutation.perRequest) {
      if (op.probability <= 0 || mutations.next() >= op.probability) continue;
      const shifting = op.op === "insert" || op.op === "delete";
      company.mutate(op.op, op.count, mutations, changeTime(), shifting ? last : undefined);
    }
  }

  async function count(res: ServerResponse, rawQuery: string, company: Company) {
    const query = parseItemsQuery(rawQuery, config.odataVersion);
    const filter = query.filter;
    let n = filter === null ? company.size : 0;
    if (filter !== null) for (const item of company.inCodeOrder()) if (filter(item)) n += 1;
    await sleep(latencyFor(0));
    if (config.countGarbage === "empty") sendText(res, 200, "");
    else if (config.countGarbage === "html") sendText(res, 200, countGarbagePage(), "text/html; charset=utf-8");
    else sendText(res, 200, String(n));
  }

  async function single(res: ServerResponse, prefix: string, rawQuery: string, company: Company, key: string) {
    const select = new URLSearchParams(rawQuery).get("$select");
    const fields = select === null ? null : parseSelect(select);
    const item = company.get(key);
    await sleep(latencyFor(item ? 1 : 0));
    if (item === undefined) {
      sendSlError(res, 404, NOT_FOUND.code, NOT_FOUND.message);
      return;
    }
    const v1 = config.odataVersion === 1;
    const context = v1 ? { "odata.metadata": `${baseUrl}${prefix}/$metadata#Items/@Element` } : { "@odata.context": `${baseUrl}${prefix}/$metadata#Items/$entity` };
    sendJson(res, 200, { ...context, ...project(item, fields) });
  }

  async function metadata(res: ServerResponse) {
    await sleep(latencyFor(0));
    const types: Record<string, string> = { string: "Edm.String", number: "Edm.Double", date: "Edm.DateTime" };
    const properties = ITEM_FIELDS.filter(([, type]) => type !== "collection")
      .map(([name, type]) => `<Property Name="${name}" Type="${name === "ItemsGroupCode" ? "Edm.Int32" : types[type]}"/>`)
      .join("");
    sendText(
      res,
      200,
      '<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx">' +
        '<edmx:DataServices><Schema Namespace="SAPB1" xmlns="http://schemas.microsoft.com/ado/2009/11/edm">' +
        `<EntityType Name="Item"><Key><PropertyRef Name="ItemCode"/></Key>${properties}` +
        '<Property Name="ItemPrices" Type="Collection(SAPB1.ItemPrice)" Nullable="false"/></EntityType>' +
        "</Schema></edmx:DataServices></edmx:Edmx>",
      "application/xml;charset=utf-8",
    );
  }

  async function serviceLayer(req: IncomingMessage, res: ServerResponse, version: string, rawSub: string, rawQuery: string, expectContinue: boolean) {
    const prefix = `/b1s/${version}`;
    let subpath = rawSub;
    try {
      subpath = decodeURIComponent(rawSub);
    } catch (error) {
      if (!(error instanceof URIError)) throw error;
    }
    const route = routeOf(subpath);
    const cookies = parseCookies(header(req, "cookie"));
    const record: SapRequestRecord = {
      at: now(),
      method: req.method ?? "GET",
      route: route.name,
      session: cookies.get("B1SESSION") ?? null,
      status: 0,
      latencyMs: 0,
    };
    if (rawQuery !== "") record.query = rawQuery;
    pushRecord(record);
    const started = performance.now();
    res.once("finish", () => {
      record.status = res.statusCode;
      record.latencyMs = Math.round(performance.now() - started);
    });
    res.once("close", () => {
      if (!res.writableFinished) record.latencyMs = Math.round(performance.now() - started);
    });

    if (expectContinue) {
      if (config.expect100Fails) {
        sendEmpty(res, 500, { connection: "close" });
        return;
      }
      res.writeContinue();
    }
    const scripted = takeFault(route.name, route.name === "Items" || route.name === "Items/$count" ? skipOf(rawQuery) : null);
    if (scripted && (await fault(scripted, req, res, cookies))) return;
    const { errors } = config;
    if (errors.probability > 0 && runtime.next() < errors.probability) {
      if (await fault({ kind: runtime.pick(errors.kinds) }, req, res, cookies)) return;
    }

    try {
      if (route.name === "Login") {
        if (req.method !== "POST") throw new SlError(405, -1000, "Login takes POST");
        await login(req, res, prefix, record);
        return;
      }
      req.resume();
      if (config.latency.hangProbability > 0 && runtime.next() < config.latency.hangProbability) return;
      const check = sessions.check(cookies);
      if (!check.ok) {
        await sleep(latencyFor(0));
        invalidSession(res);
        return;
      }
      const release = await sessions.slot(check.session, config.perSessionConcurrency);
      res.once("close", release);
      try {
        if (res.destroyed) return;
        await serve(req, res, prefix, route, rawQuery, check.session);
      } finally {
        release();
      }
    } catch (error) {
      if (error instanceof SlError) sendSlError(res, error.status, error.code, error.message);
      else if (error instanceof BodyTooLarge) sendSlError(res, 413, -1000, "The request body is too large");
      else throw error;
    }
  }

  async function serve(req: IncomingMessage, res: ServerResponse, prefix: string, route: Route, rawQuery: string, session: Session) {
    const method = req.method ?? "GET";
    const wants = (expected: string) => {
      if (method !== expected) throw new SlError(405, -1000, `${route.name} takes ${expected}, not ${printable(method, 20)}`);
    };
    if (route.name === "Logout") {
      wants("POST");
      sessions.end(session.id);
      await sleep(latencyFor(0));
      sendEmpty(res, 204);
      return;
    }
    if (!route.known) {
      await sleep(latencyFor(0));
      throw new SlError(404, -1000, `Resource not found for the segment '${route.name}'`);
    }
    if (route.name === "$metadata") {
      wants("GET");
      await metadata(res);
      return;
    }
    // A company re-seeded away under a session ends the session (seed() ends them all anyway).
    const company = companies.get(session.companyDb);
    if (company === undefined) {
      sessions.end(session.id);
      invalidSession(res);
      return;
    }
    wants("GET");
    if (route.name === "Items") await items(req, res, prefix, rawQuery, company);
    else if (route.name === "Items/$count") await count(res, rawQuery, company);
    else await single(res, prefix, rawQuery, company, route.key as string);
  }

  const control: ControlTarget = {
    reset: () => simulator.reset(),
    seed: (newSeed, seeds) => simulator.seed(newSeed, seeds ?? companySeeds),
    config: () => structuredClone(config),
    configure: (patch) => {
      config = mergeConfig(config, patch);
    },
    addFaults: (list) => simulator.addFaults(list),
    pendingFaults: () => structuredClone(faults),
    mutate: (companyDb, ops) => mutateNow(companyDb, ops),
    advanceClock: (ms) => {
      simulator.advanceClock(ms);
      return { offsetMs, now: now() };
    },
    expireSessions: () => {
      const n = sessions.count();
      sessions.endAll();
      return n;
    },
    requests: () => simulator.requests(),
    items: (companyDb) => simulator.items(companyDb),
    companies: () => [...companies.keys()],
    sessionCount: () => sessions.count(),
  };

  async function handle(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
    const url = req.url ?? "/";
    const mark = url.indexOf("?");
    const rawPath = mark === -1 ? url : url.slice(0, mark);
    const rawQuery = mark === -1 ? "" : url.slice(mark + 1);
    if (rawPath.startsWith("/__sim/")) {
      if (expectContinue) res.writeContinue();
      await handleControl(req, res, rawPath.slice("/__sim/".length), new URLSearchParams(rawQuery), control);
      return;
    }
    const sl = /^\/b1s\/(v1|v2)\/(.+)$/.exec(rawPath);
    if (!sl) {
      req.resume();
      sendPlainJson(res, 404, slErrorBody(-1000, "Not a Service Layer path: use /b1s/v1/… (or /__sim/… for the simulator)"));
      return;
    }
    await serviceLayer(req, res, sl[1] as string, sl[2] as string, rawQuery, expectContinue);
  }

  function onRequest(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    handle(req, res, expectContinue).catch((error: unknown) => {
      log.error("the SAP simulator failed on a request", { err: error, path: (req.url ?? "").split("?")[0] });
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, slErrorBody(-1, "Internal error in the SAP simulator"));
    });
  }

  const server = createServer((req, res) => onRequest(req, res, false));
  // Without this listener Node answers 100 Continue by itself; the Apache in front of
  // some installations answers an empty 500 instead (expect100Fails).
  server.on("checkContinue", (req, res) => onRequest(req, res, true));
  server.on("clientError", (error, socket) => {
    log.debug("bad request on the SAP simulator", { err: error });
    socket.destroy();
  });
  const host = options.host ?? "127.0.0.1";
  const port = await listenOn(server, options.port ?? 0, host);
  server.on("error", (error) => log.error("the SAP simulator server failed", { err: error }));
  const hostForClients = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  baseUrl = `http://${hostForClients.includes(":") ? `[${hostForClients}]` : hostForClients}:${port}`;

  let closing: Promise<void> | null = null;
  const simulator: SapSimulator = {
    url: baseUrl,
    port,
    reset() {
      load(startSeed, startCompanies);
      config = structuredClone(startConfig);
      sessions.clear();
      records = [];
      faults = [];
      offsetMs = 0;
    },
    seed(newSeed, seeds) {
      const validSeed = parseSeed(newSeed);
      const validCompanies = parseCompanies(seeds);
      load(validSeed, validCompanies);
      sessions.endAll();
    },
    configure(patch) {
      config = mergeConfig(config, patch);
    },
    addFaults(list) {
      faults.push(...parseFaults(list));
    },
    mutate(companyDb, ops) {
      mutateNow(companyDb, ops);
    },
    advanceClock(ms) {
      if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) throw new SimInputError("advanceClock takes a number of milliseconds ≥ 0");
      offsetMs += ms;
    },
    expireSessions() {
      sessions.endAll();
    },
    requests: () => records.map((record) => ({ ...record })),
    items: (companyDb) => structuredClone(companyNamed(companyDb).inCodeOrder()) as SapItem[],
    sessionCount: () => sessions.count(),
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
  return simulator;
}

// ── standalone ──────────────────────────────────────────────────────────────

const invokedAsScript =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;

if (invokedAsScript) {
  const usage =
    "usage: tsx dev/sim/sap/server.ts [--port 0] [--host 127.0.0.1] [--seed 1] [--items 2000]\n" +
    "         [--company SBODEMO] [--user manager] [--password sim-password] [--config JSON]\n";
  let simulator: SapSimulator;
  try {
    const { values } = parseArgs({
      options: {
        port: { type: "string", default: "0" },
        host: { type: "string", default: "127.0.0.1" },
        seed: { type: "string", default: "1" },
        items: { type: "string", default: String(DEFAULT_COMPANY.items) },
        company: { type: "string", default: DEFAULT_COMPANY.companyDb },
        user: { type: "string", default: "manager" },
        password: { type: "string", default: "sim-password" },
        config: { type: "string" },
      },
    });
    const config: unknown = values.config === undefined ? undefined : JSON.parse(values.config);
    simulator = await startSapSimulator({
      port: Number(values.port),
      host: values.host,
      seed: Number(values.seed),
      companies: [{ companyDb: values.company, users: [{ name: values.user, password: values.password }], items: Number(values.items) }],
      ...(config === undefined ? {} : { config: config as SapSimConfigPatch }),
    });
  } catch (error) {
    process.stderr.write(`sap simulator: ${error instanceof Error ? error.message : String(error)}\n${usage}`);
    process.exit(2);
  }
  process.stdout.write(`sap simulator: listening on ${simulator.url} (Service Layer at ${simulator.url}/b1s/v1)\nSAP_SIM_URL=${simulator.url}\n`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      simulator.close().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`sap simulator: could not close cleanly: ${String(error)}\n`);
          process.exit(1);
        },
      );
    });
  }
}
