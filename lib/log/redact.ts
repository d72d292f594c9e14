/**
 * Secrets never reach a log line: values under secret-looking keys are replaced,
 * and secrets embedded in strings (credentials in URLs, bearer tokens) are masked.
 */
export const REDACTED = "[redacted]";

const SECRET_KEY =
  /(authorization|cookie|password|passwd|pwd|secret|token|api[_-]?key|signature|credential|connection[_-]?string|database[_-]?url|dsn)/i;

// scheme://user:password@host  ->  scheme://user:[redacted]@host
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):([^\s@/]*)@/gi;
// "Bearer abc", "Basic abc"
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;
// key=value pairs in connection strings and query strings: password=..., token=...
const SECRET_PAIR = /\b(password|passwd|pwd|token|secret|api[_-]?key|sig|signature)=([^\s&;,]+)/gi;

const MAX_DEPTH = 6;

export function redactText(text: string): string {
  return text
    .replace(URL_CREDENTIALS, `$1:${REDACTED}@`)
    .replace(AUTH_SCHEME, `$1 ${REDACTED}`)
    .replace(SECRET_PAIR, `$1=${REDACTED}`);
}

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** A deep copy of `value` that is safe to log. Errors become `{ type, message, code, stack }`. */
export function redactValue(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === "string") return redactText(value);
  if (value === null || typeof value !== "object") {
    return typeof value === "bigint" ? value.toString() : value;
  }
  if (seen.has(value)) return "[circular]";
  if (depth >= MAX_DEPTH) return "[truncated]";
  seen.add(value);
  if (value instanceof Error) return serializeError(value, depth, seen);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Headers) return redactValue(Object.fromEntries(value.entries()), depth, seen);
  if (value instanceof URL) return redactText(value.toString());
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = isSecretKey(key) && item !== null && item !== undefined ? REDACTED : redactValue(item, depth + 1, seen);
  }
  return out;
}

function serializeError(error: Error, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: error.name,
    message: redactText(error.message),
  };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (error.stack) out.stack = redactText(error.stack);
  if (error.cause !== undefined) out.cause = redactValue(error.cause, depth + 1, seen);
  return out;
}
