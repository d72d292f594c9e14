/**
 * The small languages inside QStash headers: durations (`30s`, `5m`, `1h30m`, a bare
 * number of seconds), the flow-control value (`parallelism=2, rate=10, period=60s`),
 * `Retry-After` (seconds or an HTTP date) and the `Upstash-Retry-Delay` expression
 * (milliseconds over `retried`, with pow/sqrt/abs/exp/floor/ceil/round/min/max).
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** QStash caps every delay, backoff and Retry-After at one day. */
export const ONE_DAY_MS = 86_400_000;

/** A duration in milliseconds, or null when `value` is not one. A bare number counts in seconds. */
export function parseDurationMs(value: string): number | null {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1_000;
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
  let total = 0;
  let position = 0;
  while (position < text.length) {
    part.lastIndex = position;
    const match = part.exec(text);
    if (!match) return null;
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
    position = part.lastIndex;
  }
  return position === 0 ? null : total;
}

export interface FlowSettings {
  key: string;
  /** Deliveries of the key in flight at once; Infinity when only a rate is set. */
  parallelism: number;
  /** Deliveries started per `periodMs`; Infinity when only parallelism is set. */
  rate: number;
  periodMs: number;
}

/** `Upstash-Flow-Control-Key` + `-Value`; an error string when the value is malformed. */
export function parseFlowControl(key: string, value: string | undefined): FlowSettings | string {
  if (key.trim() === "") return "Upstash-Flow-Control-Key must not be empty";
  if (value === undefined || value.trim() === "") {
    return "Upstash-Flow-Control-Value is required with Upstash-Flow-Control-Key";
  }
  const settings: FlowSettings = { key, parallelism: Infinity, rate: Infinity, periodMs: 1_000 };
  for (const part of value.split(",")) {
    const [name, raw, ...rest] = part.split("=").map((piece) => piece.trim());
    if (!name || raw === undefined || rest.length > 0) return `malformed flow control part "${part.trim()}"`;
    if (name === "period") {
      const periodMs = parseDurationMs(raw);
      if (periodMs === null || periodMs <= 0) return `flow control period "${raw}" is not a duration`;
      settings.periodMs = periodMs;
    } else if (name === "parallelism" || name === "rate" || name === "ratePerSecond") {
      const count = Number(raw);
      if (!Number.isInteger(count) || count < 1) return `flow control ${name} must be a positive integer`;
      if (name === "parallelism") settings.parallelism = count;
      else settings.rate = count;
    } else {
      return `unknown flow control setting "${name}"`;
    }
  }
  if (settings.parallelism === Infinity && settings.rate === Infinity) {
    return "flow control needs parallelism or rate";
  }
  return settings;
}

/** A `Retry-After` response header in milliseconds (capped at a day), or null when absent or unreadable. */
export function parseRetryAfterMs(value: string | undefined, nowMs: number): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.min(ONE_DAY_MS, Number(text) * 1_000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.min(ONE_DAY_MS, Math.max(0, date - nowMs));
}

/** QStash's default backoff before retry number `retry` (1 for the first retry): min(1 day, e^(2.5·n)) s. */
export function defaultBackoffMs(retry: number): number {
  return Math.min(ONE_DAY_MS, Math.exp(2.5 * retry) * 1_000);
}

export type RetryDelay = (retried: number) => number;

const FUNCTIONS: Record<string, { arity: number | "many"; apply: (...args: number[]) => number }> = {
  pow: { arity: 2, apply: (base, exponent) => Math.pow(base as number, exponent as number) },
  sqrt: { arity: 1, apply: (x) => Math.sqrt(x as number) },
  abs: { arity: 1, apply: (x) => Math.abs(x as number) },
  exp: { arity: 1, apply: (x) => Math.exp(x as number) },
  floor: { arity: 1, apply: (x) => Math.floor(x as number) },
  ceil: { arity: 1, apply: (x) => Math.ceil(x as number) },
  round: { arity: 1, apply: (x) => Math.round(x as number) },
  min: { arity: "many", apply: (...xs) => Math.min(...xs) },
  max: { arity: "many", apply: (...xs) => Math.max(...xs) },
};

type Node = (retried: number) => number;

/**
 * Compiles an `Upstash-Retry-Delay` expression (milliseconds; `retried` counts the
 * retries already made, 0 before the first). Returns an error string when it does not parse.
 */
export function compileRetryDelay(source: string): RetryDelay | string {
  const tokens = source.match(/\d+(?:\.\d+)?|[A-Za-z_]+|[-+*/(),]|\S/g) ?? [];
  let index = 0;
  const peek = () => tokens[index];
  const fail = (message: string): never => {
    throw new RetryDelaySyntaxError(`Upstash-Retry-Delay "${source}": ${message}`);
  };
  const expect = (token: string) => {
    if (tokens[index] !== token) fail(`expected "${token}" at token ${index + 1}`);
    index += 1;
  };

  function expression(): Node {
    let left = term();
    while (peek() === "+" || peek() === "-") {
      const operator = tokens[index++];
      const right = term();
      const previous = left;
      left = operator === "+" ? (r) => previous(r) + right(r) : (r) => previous(r) - right(r);
    }
    return left;
  }
  function term(): Node {
    let left = unary();
    while (peek() === "*" || peek() === "/") {
      const operator = tokens[index++];
      const right = unary();
      const previous = left;
      left = operator === "*" ? (r) => previous(r) * right(r) : (r) => previous(r) / right(r);
    }
    return left;
  }
  function unary(): Node {
    if (peek() === "-") {
      index += 1;
      const operand = unary();
      return (r) => -operand(r);
    }
    if (peek() === "+") index += 1;
    return primary();
  }
  function primary(): Node {
    const token = tokens[index++];
    if (token === undefined) return fail("unexpected end");
    if (/^\d/.test(token)) {
      const value = Number(token);
      return () => value;
    }
    if (token === "(") {
      const inner = expression();
      expect(")");
      return inner;
    }
    if (token === "retried") return (r) => r;
    const fn = FUNCTIONS[token];
    if (!fn) return fail(`unknown name "${token}"`);
    expect("(");
    const args: Node[] = [expression()];
    while (peek() === ",") {
      index += 1;
      args.push(expression());
    }
    expect(")");
    if (fn.arity !== "many" && args.length !== fn.arity) fail(`${token} takes ${fn.arity} argument(s)`);
    return (r) => fn.apply(...args.map((arg) => arg(r)));
  }

  try {
    const root = expression();
    if (index !== tokens.length) fail(`unexpected "${tokens[index]}"`);
    return (retried) => {
      const value = root(retried);
      return Number.isFinite(value) ? Math.min(ONE_DAY_MS, Math.max(0, value)) : ONE_DAY_MS;
    };
  } catch (error) {
    if (error instanceof RetryDelaySyntaxError) return error.message;
    throw error;
  }
}

class RetryDelaySyntaxError extends Error {}
