/**
 * The control API under /__sim/ (docs/local-services.md): reset, seed, config, faults, mutate,
 * clock, expire-sessions, requests, items, sessions, health. No authentication: it is a
 * loopback dev tool, like the simulator itself. Bad input is a 400 naming the problem.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseCompanies, parseFaults, parseMutations, parseSeed, SimInputError } from "./config.js";
import { BodyTooLarge, readBody, sendPlainJson } from "./responses.js";
import type { SapFault, SapItem, SapMutation, SapRequestRecord, SapSimCompanySeed, SapSimConfig } from "./types.js";

export interface ControlTarget {
  reset(): void;
  seed(seed: number, companies: SapSimCompanySeed[] | null): void;
  config(): SapSimConfig;
  configure(patch: unknown): void;
  addFaults(faults: SapFault[]): void;
  pendingFaults(): SapFault[];
  mutate(companyDb: string, ops: SapMutation[]): void;
  advanceClock(ms: number): { offsetMs: number; now: number };
  expireSessions(): number;
  requests(): SapRequestRecord[];
  items(companyDb: string): SapItem[];
  companies(): string[];
  sessionCount(): number;
}

/** A company named by the caller, or the only one when there is only one. */
function companyOf(target: ControlTarget, named: unknown): string {
  if (named === undefined || named === null || named === "") {
    const all = target.companies();
    if (all.length === 1) return all[0] as string;
    throw new SimInputError(`name the company (one of ${all.join(", ")})`);
  }
  if (typeof named !== "string") throw new SimInputError("the company must be a string");
  if (!target.companies().includes(named)) throw new UnknownCompany(named);
  return named;
}

export class UnknownCompany extends Error {
  override name = "UnknownCompany";
  constructor(readonly companyDb: string) {
    super(`no company ${JSON.stringify(companyDb.slice(0, 100))}`);
  }
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req);
  if (text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) throw new SimInputError(`the body is not JSON: ${error.message}`);
    throw error;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new SimInputError("the body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

type Handler = (req: IncomingMessage, query: URLSearchParams) => Promise<unknown> | unknown;

function routes(target: ControlTarget): Record<string, Partial<Record<"GET" | "POST", Handler>>> {
  return {
    reset: {
      POST: () => {
        target.reset();
        return { ok: true };
      },
    },
    seed: {
      POST: async (req) => {
        const body = await jsonBody(req);
        const companies = body.companies === undefined ? null : parseCompanies(body.companies);
        target.seed(parseSeed(body.seed), companies);
        return { ok: true, companies: target.companies() };
      },
    },
    config: {
      GET: () => ({ config: target.config() }),
      POST: async (req) => {
        target.configure(await jsonBody(req));
        return { config: target.config() };
      },
    },
    faults: {
      GET: () => ({ faults: target.pendingFaults() }),
      POST: async (req) => {
        const body = await jsonBody(req);
        target.addFaults(parseFaults(body.faults));
        return { faults: target.pendingFaults() };
      },
    },
    mutate: {
      POST: async (req) => {
        const body = await jsonBody(req);
        const companyDb = companyOf(target, body.companyDb ?? body.company);
        target.mutate(companyDb, parseMutations(body.ops));
        return { ok: true, items: target.items(companyDb).length };
      },
    },
    clock: {
      POST: async (req) => {
        const { advanceMs } = await jsonBody(req);
        if (typeof advanceMs !== "number" || !Number.isFinite(advanceMs) || advanceMs < 0 || advanceMs > 10 * 365 * 86_400_000) {
          throw new SimInputError("advanceMs must be a number of milliseconds from 0 to ten years");
        }
        return target.advanceClock(advanceMs);
      },
    },
    "expire-sessions": { POST: () => ({ expired: target.expireSessions() }) },
    requests: { GET: () => ({ requests: target.requests() }) },
    items: { GET: (_req, query) => ({ items: target.items(companyOf(target, query.get("company"))) }) },
    sessions: { GET: () => ({ count: target.sessionCount() }) },
    health: { GET: () => ({ ok: true }) },
  };
}

/** Answers a request for /__sim/<name>. */
export async function handleControl(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  query: URLSearchParams,
  target: ControlTarget,
): Promise<void> {
  const table = routes(target);
  const route = Object.hasOwn(table, name) ? table[name] : undefined;
  if (route === undefined) {
    req.resume();
    sendPlainJson(res, 404, { error: `no control route /__sim/${name.slice(0, 100)}` });
    return;
  }
  const handler = req.method === "GET" || req.method === "POST" ? route[req.method] : undefined;
  if (handler === undefined) {
    req.resume();
    res.setHeader("allow", Object.keys(route).join(", "));
    sendPlainJson(res, 405, { error: `/__sim/${name} takes ${Object.keys(route).join(" or ")}` });
    return;
  }
  if (req.method === "GET") req.resume();
  try {
    sendPlainJson(res, 200, await handler(req, query));
  } catch (error) {
    if (error instanceof SimInputError) sendPlainJson(res, 400, { error: error.message });
    else if (error instanceof UnknownCompany) sendPlainJson(res, 404, { error: error.message });
    else if (error instanceof BodyTooLarge) sendPlainJson(res, 413, { error: error.message });
    else throw error;
  }
}
