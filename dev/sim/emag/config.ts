/**
 * The eMAG simulator's knobs (docs/local-services.md). Every default is the well-behaved
 * API, except that rate limiting is on, as it is in production. A patch is merged
 * into a copy, the copy is checked as a whole, and only then swapped in, so a bad
 * patch (from the control API, say) never leaves the simulator half-configured.
 */

export type EmagRoute = "product_offer/read" | "product_offer/count" | "order/read" | "order/count";
export const EMAG_ROUTES: readonly EmagRoute[] = ["product_offer/read", "product_offer/count", "order/read", "order/count"];

/** How a failure is answered: an HTTP error status, or one of the 200 answers a client must not trust. */
export type EmagErrorKind = "http" | "isError" | "empty_body" | "invalid_json" | "no_isError";
export const ERROR_KINDS: readonly EmagErrorKind[] = ["http", "isError", "empty_body", "invalid_json", "no_isError"];

export type EmagMutationOp = "insert" | "delete" | "flip_status" | "change_price" | "change_stock";
export const MUTATION_OPS: readonly EmagMutationOp[] = ["insert", "delete", "flip_status", "change_price", "change_stock"];

export interface EmagRateRule {
  perSecond: number;
  perMinute: number;
}

export interface EmagOutage {
  account: string;
  /** Epoch ms (simulator clock), inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  statuses: number[];
}

export interface EmagMutationRule {
  op: EmagMutationOp;
  count: number;
  /** Chance, per served read of the account, that this rule fires. */
  probability: number;
}

export interface EmagSimConfig {
  /** Status of a missing/wrong-credentials answer (the body is the isError envelope either way). */
  authFailStatus: number;
  /** Header carrying the client IP (first comma-separated entry); else the socket address. */
  ipHeader: string;
  /** itemsPerPage > 100: served as 100 ("clamp") or refused with isError. */
  overMaxMode: "clamp" | "isError";
  orderMode: "id" | "insertion" | "random-per-request";
  messagesShape: "strings" | "objects";
  offerValidationShape: "object" | "list";
  countAsStrings: boolean;
  rateLimit: {
    enabled: boolean;
    other: EmagRateRule;
    orders: EmagRateRule;
    /** After a 429 the account's bucket keeps answering 429 this long (each 429 extends it). */
    penaltyMs: number;
    retryAfterHeader: boolean;
  };
  latency: {
    baseMs: number;
    perItemMs: number;
    jitterMs: number;
    slowProbability: number;
    /** A slow answer takes this long instead of the usual latency. */
    slowMs: number;
    hangProbability: number;
  };
  errors: {
    probability: number;
    statuses: number[];
    /** Picked uniformly per failure; list a kind twice to weight it. */
    kinds: EmagErrorKind[];
    /** Routes the random errors apply to; empty = all. */
    routes: EmagRoute[];
  };
  outages: EmagOutage[];
  mutation: { perRequest: EmagMutationRule[] };
}

/** A deep-partial config: objects merge key by key, arrays replace. */
export type EmagSimConfigPatch = DeepPatch<EmagSimConfig>;
type DeepPatch<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPatch<T[K]> : T[K] };

export function defaultConfig(): EmagSimConfig {
  return {
    authFailStatus: 401,
    ipHeader: "x-forwarded-for",
    overMaxMode: "clamp",
    orderMode: "id",
    messagesShape: "strings",
    offerValidationShape: "object",
    countAsStrings: true,
    rateLimit: {
      enabled: true,
      other: { perSecond: 3, perMinute: 180 },
      orders: { perSecond: 12, perMinute: 720 },
      penaltyMs: 0,
      retryAfterHeader: false,
    },
    latency: { baseMs: 0, perItemMs: 0, jitterMs: 0, slowProbability: 0, slowMs: 60_000, hangProbability: 0 },
    errors: { probability: 0, statuses: [500, 502, 503, 504], kinds: ["http"], routes: [] },
    outages: [],
    mutation: { perRequest: [] },
  };
}

/** Refused simulator input (config, faults, seeds, mutations); the control API answers it 400. */
export class SimInputError extends Error {
  override name = "SimInputError";
}

/** Longest delay any knob may ask for: a day, so a typo cannot overflow setTimeout. */
export const MAX_DELAY_MS = 86_400_000;

export function mergeConfig(current: EmagSimConfig, patch: unknown): EmagSimConfig {
  const merged = structuredClone(current);
  mergeInto(merged as unknown as Record<string, unknown>, patch, "");
  checkConfig(merged);
  return merged;
}

function mergeInto(target: Record<string, unknown>, patch: unknown, path: string): void {
  if (!isPlainObject(patch)) throw new SimInputError(`${path || "config"} must be an object`);
  for (const [key, value] of Object.entries(patch)) {
    const where = path ? `${path}.${key}` : key;
    if (!Object.hasOwn(target, key)) throw new SimInputError(`unknown config key ${where}`);
    const existing = target[key];
    if (isPlainObject(existing)) {
      mergeInto(existing, value, where);
    } else if (Array.isArray(existing)) {
      if (!Array.isArray(value)) throw new SimInputError(`${where} must be an array`);
      target[key] = structuredClone(value);
    } else {
      if (typeof value !== typeof existing) throw new SimInputError(`${where} must be a ${typeof existing}`);
      target[key] = value;
    }
  }
}

function checkConfig(config: EmagSimConfig): void {
  status(config.authFailStatus, "authFailStatus");
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(config.ipHeader)) throw new SimInputError("ipHeader must be a header name");
  config.ipHeader = config.ipHeader.toLowerCase();
  oneOf(config.overMaxMode, ["clamp", "isError"], "overMaxMode");
  oneOf(config.orderMode, ["id", "insertion", "random-per-request"], "orderMode");
  oneOf(config.messagesShape, ["strings", "objects"], "messagesShape");
  oneOf(config.offerValidationShape, ["object", "list"], "offerValidationShape");
  for (const bucket of ["other", "orders"] as const) {
    positiveInteger(config.rateLimit[bucket].perSecond, `rateLimit.${bucket}.perSecond`);
    positiveInteger(config.rateLimit[bucket].perMinute, `rateLimit.${bucket}.perMinute`);
  }
  delay(config.rateLimit.penaltyMs, "rateLimit.penaltyMs");
  for (const key of ["baseMs", "perItemMs", "jitterMs", "slowMs"] as const) delay(config.latency[key], `latency.${key}`);
  probability(config.latency.slowProbability, "latency.slowProbability");
  probability(config.latency.hangProbability, "latency.hangProbability");
  probability(config.errors.probability, "errors.probability");
  if (config.errors.statuses.length === 0) throw new SimInputError("errors.statuses must not be empty");
  config.errors.statuses.forEach((value, i) => status(value, `errors.statuses[${i}]`));
  if (config.errors.kinds.length === 0) throw new SimInputError("errors.kinds must not be empty");
  config.errors.kinds.forEach((kind, i) => oneOf(kind, ERROR_KINDS, `errors.kinds[${i}]`));
  config.errors.routes.forEach((route, i) => oneOf(route, EMAG_ROUTES, `errors.routes[${i}]`));
  config.outages.forEach((outage: unknown, i) => checkOutage(outage, `outages[${i}]`));
  config.mutation.perRequest.forEach((rule: unknown, i) => {
    const where = `mutation.perRequest[${i}]`;
    if (!isPlainObject(rule)) throw new SimInputError(`${where} must be an object`);
    onlyKeys(rule, ["op", "count", "probability"], where);
    oneOf(rule.op, MUTATION_OPS, `${where}.op`);
    countOf(rule.count, `${where}.count`);
    probability(rule.probability, `${where}.probability`);
  });
}

function checkOutage(outage: unknown, where: string): void {
  if (!isPlainObject(outage)) throw new SimInputError(`${where} must be an object`);
  onlyKeys(outage, ["account", "from", "to", "statuses"], where);
  if (typeof outage.account !== "string" || outage.account === "") throw new SimInputError(`${where}.account must be a username`);
  for (const key of ["from", "to"] as const) {
    if (typeof outage[key] !== "number" || !Number.isFinite(outage[key])) throw new SimInputError(`${where}.${key} must be epoch ms`);
  }
  const statuses = outage.statuses;
  if (!Array.isArray(statuses) || statuses.length === 0) throw new SimInputError(`${where}.statuses must be a non-empty array`);
  statuses.forEach((value: unknown, i) => status(value, `${where}.statuses[${i}]`));
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function onlyKeys(value: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new SimInputError(`unknown key ${where}.${key}`);
  }
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], where: string): asserts value is T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new SimInputError(`${where} must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`);
  }
}

export function status(value: unknown, where: string): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 200 || value > 599) {
    throw new SimInputError(`${where} must be an HTTP status from 200 to 599`);
  }
}

export function countOf(value: unknown, where: string, max = 100_000): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
    throw new SimInputError(`${where} must be an integer from 0 to ${max}`);
  }
}

function positiveInteger(value: number, where: string): void {
  if (!Number.isInteger(value) || value < 1 || value > 1_000_000) throw new SimInputError(`${where} must be an integer from 1 to 1000000`);
}

export function delay(value: unknown, where: string): asserts value is number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_DELAY_MS) {
    throw new SimInputError(`${where} must be a number of ms from 0 to ${MAX_DELAY_MS}`);
  }
}

function probability(value: unknown, where: string): asserts value is number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) throw new SimInputError(`${where} must be a probability from 0 to 1`);
}
