/**
 * The control API under /__sim/* (no auth: a loopback dev tool). Tests that run the
 * simulator in another process drive it through these routes, the same operations
 * the in-process handle offers:
 *
 *   POST /__sim/reset                    seeded data, start-up config, no log, no faults, clock offset 0
 *   POST /__sim/seed    {seed, accounts?}
 *   GET  /__sim/config                   the current config
 *   POST /__sim/config  {…patch}         deep-merged; answers the new config
 *   GET  /__sim/faults                   the pending faults
 *   POST /__sim/faults  {faults: […]}
 *   POST /__sim/mutate  {account, ops: […]}
 *   GET  /__sim/requests                 {requests: […]}
 *   GET  /__sim/offers?account=U         {offers: […]} in id order
 *   POST /__sim/clock   {advanceMs}      moves the simulator's clock (rate windows, outages) forward
 *   GET  /__sim/health
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { BodyTooLarge, readBody, sendJson, sendTooLarge } from "../http.js";
import { checkAccounts, checkSeed, type EmagSimAccountSeed } from "./accounts.js";
import { delay, type EmagSimConfig, isPlainObject, SimInputError } from "./config.js";
import type { EmagFault } from "./faults.js";
import type { EmagOffer } from "./offers.js";

export interface ControlTarget {
  reset(): void;
  seed(seed: number, accounts: EmagSimAccountSeed[]): void;
  currentSeed(): { seed: number; accounts: EmagSimAccountSeed[] };
  config(): EmagSimConfig;
  configure(patch: unknown): void;
  addFaults(faults: unknown): void;
  faults(): EmagFault[];
  mutate(account: string, ops: unknown): void;
  requests(): unknown[];
  offers(account: string): EmagOffer[];
  accountSizes(): Array<{ username: string; offers: number }>;
  now(): number;
  advanceClock(ms: number): void;
}

type Handler = (body: Record<string, unknown>, query: URLSearchParams) => unknown;

export async function handleControl(req: IncomingMessage, res: ServerResponse, url: URL, target: ControlTarget): Promise<void> {
  const routes: Record<string, Partial<Record<"GET" | "POST", Handler>>> = {
    "/__sim/reset": {
      POST: () => {
        target.reset();
        return { ok: true };
      },
    },
    "/__sim/seed": {
      POST: (body) => {
        const accounts = body.accounts === undefined ? target.currentSeed().accounts : checkAccounts(body.accounts);
        target.seed(checkSeed(body.seed), accounts);
        return { ok: true, accounts: target.accountSizes() };
      },
    },
    "/__sim/config": {
      GET: () => target.config(),
      POST: (body) => {
        target.configure(body);
        return target.config();
      },
    },
    "/__sim/faults": {
      GET: () => ({ faults: target.faults() }),
      POST: (body) => {
        target.addFaults(body.faults);
        return { ok: true, pending: target.faults().length };
      },
    },
    "/__sim/mutate": {
      POST: (body) => {
        if (typeof body.account !== "string") throw new SimInputError("account must be a username");
        target.mutate(body.account, body.ops);
        return { ok: true, offers: target.accountSizes().find((a) => a.username === body.account)?.offers ?? 0 };
      },
    },
    "/__sim/requests": { GET: () => ({ requests: target.requests() }) },
    "/__sim/offers": {
      GET: (_body, query) => {
        const account = query.get("account");
        if (account === null || account === "") throw new SimInputError("the account query parameter is required");
        return { offers: target.offers(account) };
      },
    },
    "/__sim/clock": {
      POST: (body) => {
        delay(body.advanceMs, "advanceMs");
        target.advanceClock(body.advanceMs);
        return { now: target.now() };
      },
    },
    "/__sim/health": {
      GET: () => ({ ok: true, seed: target.currentSeed().seed, accounts: target.accountSizes(), now: target.now() }),
    },
  };

  const route = Object.hasOwn(routes, url.pathname) ? routes[url.pathname] : undefined;
  if (!route) {
    req.resume();
    sendJson(res, 404, { error: `no control route ${url.pathname}` });
    return;
  }
  const method = req.method === "GET" || req.method === "POST" ? req.method : null;
  const handler = method ? route[method] : undefined;
  if (!handler) {
    req.resume();
    sendJson(res, 405, { error: `${req.method ?? "?"} is not allowed on ${url.pathname}` }, { allow: Object.keys(route).join(", ") });
    return;
  }
  let body: Record<string, unknown> = {};
  if (method === "POST") {
    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch (error) {
      if (error instanceof BodyTooLarge) sendTooLarge(res, error, { error: error.message });
      return;
    }
    const text = raw.toString("utf8").trim();
    if (text !== "") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        sendJson(res, 400, { error: `the body is not JSON: ${error.message}` });
        return;
      }
      if (!isPlainObject(parsed)) {
        sendJson(res, 400, { error: "the body must be a JSON object" });
        return;
      }
      body = parsed;
    }
  }
  try {
    sendJson(res, 200, handler(body, url.searchParams));
  } catch (error) {
    if (!(error instanceof SimInputError)) throw error;
    sendJson(res, 400, { error: error.message });
  }
}
