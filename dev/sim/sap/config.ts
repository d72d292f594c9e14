/**
 * The simulator's knobs: defaults (all well-behaved), validation of patches (from
 * configure() and POST /__sim/config alike) and the deep merge.
 */
import { z } from "zod";
import type { SapFault, SapMutation, SapSimCompanySeed, SapSimConfig, SapSimConfigPatch } from "./types.js";

/** Bad input to the simulator itself (control API, configure(), seed()): a 400 over HTTP. */
export class SimInputError extends Error {
  override name = "SimInputError";
}

export const FAULT_KINDS = ["json500", "empty500", "proxy502", "503", "504", "hang", "invalidSession", "slow"] as const;
const MUTATION_OPS = ["insert", "delete", "rename", "touch"] as const;

export const DEFAULT_COMPANY: SapSimCompanySeed = {
  companyDb: "SBODEMO",
  users: [{ name: "manager", password: "sim-password" }],
  items: 2000,
};

/** A fresh copy each time: callers mutate what they get. */
export function defaultConfig(): SapSimConfig {
  return {
    loginMs: 0,
    badLoginMs: 0,
    cookieStyle: "odd",
    nodes: 2,
    maxSessionsPerUser: 0,
    sessionTimeoutMin: 30,
    invalidSessionStatus: 401,
    requireRouteId: false,
    expireAfterRequests: 0,
    nodeRecycleEveryN: 0,
    expect100Fails: false,
    defaultPageSize: 20,
    maxPageSize: 1000,
    nextLinkStyle: "absolute-path",
    odataVersion: 1,
    defaultOrder: "ItemCode",
    countGarbage: "off",
    latency: { baseMs: 0, perRowMs: 0, jitterMs: 0, hangProbability: 0 },
    perSessionConcurrency: 0,
    errors: { probability: 0, kinds: ["json500", "empty500", "proxy502", "503", "504"] },
    mutation: { perRequest: [] },
  };
}

// A day is plenty for any wait; a larger one is a typo that would hang a test.
const ms = z.number().finite().min(0).max(86_400_000);
const count = z.number().int().min(0).max(1_000_000);
const probability = z.number().min(0).max(1);

const patchSchema = z.strictObject({
  loginMs: ms,
  badLoginMs: ms,
  cookieStyle: z.enum(["odd", "standard"]),
  nodes: z.number().int().min(1).max(64),
  maxSessionsPerUser: count,
  sessionTimeoutMin: z.number().finite().positive().max(525_600),
  invalidSessionStatus: z.union([z.literal(401), z.literal(403)]),
  requireRouteId: z.boolean(),
  expireAfterRequests: count,
  nodeRecycleEveryN: count,
  expect100Fails: z.boolean(),
  defaultPageSize: count,
  maxPageSize: count,
  nextLinkStyle: z.enum(["absolute-path", "relative", "drops-filter"]),
  odataVersion: z.union([z.literal(1), z.literal(2)]),
  defaultOrder: z.enum(["ItemCode", "insertion", "unstable-when-no-orderby"]),
  countGarbage: z.enum(["off", "empty", "html"]),
  latency: z
    .strictObject({ baseMs: ms, perRowMs: ms, jitterMs: ms, hangProbability: probability })
    .partial(),
  perSessionConcurrency: count,
  errors: z.strictObject({ probability, kinds: z.array(z.enum(FAULT_KINDS)).min(1).max(64) }).partial(),
  mutation: z
    .strictObject({
      perRequest: z
        .array(z.strictObject({ op: z.enum(MUTATION_OPS), count: z.number().int().min(0).max(10_000), probability }))
        .max(64),
    })
    .partial(),
}).partial();

const faultSchema = z.strictObject({
  route: z.enum(["Login", "Items", "Items/$count", "Logout", "*"]).optional(),
  skip: z.number().int().min(0).optional(),
  times: z.number().int().min(1).max(1_000_000),
  respond: z.strictObject({ kind: z.enum(FAULT_KINDS), delayMs: ms.optional() }),
});

const mutationSchema = z.strictObject({
  op: z.enum(MUTATION_OPS),
  count: z.number().int().min(0).max(100_000),
  before: z.string().min(1).max(200).optional(),
});

// Names are used as map keys and echoed in errors: keep them printable and short.
const name = z
  .string()
  .min(1)
  .max(100)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]+$/, "must not contain control characters");

const companySchema = z.strictObject({
  companyDb: name,
  users: z
    .array(z.strictObject({ name, password: z.string().max(200), locked: z.boolean().optional() }))
    .max(100),
  items: z.number().int().min(0).max(200_000),
});

function problems(error: z.ZodError, what: string): SimInputError {
  const text = error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : what}: ${issue.message}`)
    .join("; ");
  return new SimInputError(`invalid ${what}: ${text}`);
}

function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (!result.success) throw problems(result.error, what);
  return result.data;
}

export function parseConfigPatch(input: unknown): SapSimConfigPatch {
  return parse(patchSchema, input, "config") satisfies SapSimConfigPatch;
}

export function parseFaults(input: unknown): SapFault[] {
  return parse(z.array(faultSchema).max(10_000), input, "faults") satisfies SapFault[];
}

export function parseMutations(input: unknown): SapMutation[] {
  return parse(z.array(mutationSchema).max(100), input, "ops") satisfies SapMutation[];
}

export function parseCompanies(input: unknown): SapSimCompanySeed[] {
  const companies = parse(z.array(companySchema).min(1).max(20), input, "companies") satisfies SapSimCompanySeed[];
  const names = new Set<string>();
  for (const company of companies) {
    if (names.has(company.companyDb)) throw new SimInputError(`invalid companies: ${company.companyDb} is listed twice`);
    names.add(company.companyDb);
  }
  return companies;
}

export function parseSeed(input: unknown): number {
  return parse(z.number().int().min(-2_147_483_648).max(4_294_967_295), input, "seed");
}

/** `patch` over `config` (validated first, so nothing is half-applied). */
export function mergeConfig(config: SapSimConfig, patch: unknown): SapSimConfig {
  const valid = parseConfigPatch(patch);
  const next = structuredClone(config);
  for (const [key, value] of Object.entries(valid) as Array<[keyof SapSimConfig, unknown]>) {
    if (value === undefined) continue;
    const current = next[key];
    if (current !== null && typeof current === "object" && !Array.isArray(current)) {
      for (const [inner, innerValue] of Object.entries(value as object)) {
        if (innerValue !== undefined) (current as Record<string, unknown>)[inner] = structuredClone(innerValue);
      }
    } else {
      (next as unknown as Record<string, unknown>)[key] = structuredClone(value);
    }
  }
  return next;
}
