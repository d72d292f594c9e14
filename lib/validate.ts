import type { z } from "zod";
import { AppError, type FieldProblem } from "./errors.js";

/**
 * Why a string may not cross our boundary, or null when it may. Postgres refuses NUL
 * in text and jsonb (the request would fail there, as a 500, after objects were
 * stored), and a lone surrogate has no UTF-8 form: both are refused here, naming the
 * field, before anything is stored.
 */
export function unsafeTextProblem(text: string): string | null {
  if (text.includes("\u0000")) return "must not contain NUL (U+0000) characters";
  // With the u flag a paired surrogate is one code point: only a lone one matches.
  if (/\p{Cs}/u.test(text)) return "must not contain unpaired surrogate (U+D800-U+DFFF) characters";
  return null;
}

/** Deeper than any input of ours: a body nested further is refused rather than walked. */
const MAX_DEPTH = 64;
const MAX_PROBLEMS = 20;

/**
 * Every string in the input (object keys too), checked with unsafeTextProblem. Walks
 * plain objects and arrays only (a Buffer or Blob is bytes, not text), with its own
 * stack: a hostile body nested a million levels deep must be a 400, not a stack overflow.
 */
function unsafeTextFields(input: unknown, path: string[]): Array<{ field: string; message: string }> {
  const found: Array<{ field: string; message: string }> = [];
  const pending: Array<{ value: unknown; path: string[] }> = [{ value: input, path }];
  const name = (at: string[]) => at.join(".") || "(root)";
  while (pending.length > 0 && found.length < MAX_PROBLEMS) {
    const { value, path: at } = pending.pop() as { value: unknown; path: string[] };
    if (typeof value === "string") {
      const message = unsafeTextProblem(value);
      if (message) found.push({ field: name(at), message });
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    const proto = Object.getPrototypeOf(value) as unknown;
    if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) continue;
    if (at.length - path.length >= MAX_DEPTH) {
      found.push({ field: name(at), message: `is nested more than ${MAX_DEPTH} levels deep` });
      continue;
    }
    const entries: Array<[string, unknown]> = Array.isArray(value)
      ? value.map((item, index) => [String(index), item])
      : Object.entries(value);
    // Pushed in reverse so that problems come out in the input's order.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, item] = entries[i] as [string, unknown];
      const message = Array.isArray(value) ? null : unsafeTextProblem(key);
      // The key itself cannot be shown as it came: name the object that holds it.
      if (message) found.push({ field: name(at), message: `a property name here ${message}` });
      else pending.push({ value: item, path: [...at, key] });
    }
  }
  return found;
}

/** A 400 naming every string in `input` that unsafeTextProblem refuses. */
export function assertSafeText(input: unknown, location: FieldProblem["location"], path: string[] = []): void {
  const unsafe = unsafeTextFields(input, path);
  if (unsafe.length > 0) throw validationFailed(unsafe, location);
}

/**
 * Parses input with a zod schema; a failure is a 400 problem naming every bad field.
 * Every input that crosses a boundary comes through here (query strings, JSON bodies,
 * form fields and file names, queue messages, job params), so every text field of
 * every schema is refused for NUL and lone surrogates without each one saying so.
 */
export function parseInput<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
  location: FieldProblem["location"],
  options: { path?: string[] } = {},
): z.output<Schema> {
  const prefix = options.path ?? [];
  assertSafeText(input, location, prefix);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fieldName = (at: PropertyKey[]) => [...prefix, ...at.map(String)].join(".") || "(root)";
  // An unknown property is named itself, so "?limit=5" is a 400 about `limit`, not about the whole query.
  const fields = result.error.issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ field: fieldName([...issue.path, key]), message: "is not a known field" }))
      : [{ field: fieldName(issue.path), message: issue.message }],
  );
  throw validationFailed(fields, location);
}

function validationFailed(problems: Array<{ field: string; message: string }>, location: FieldProblem["location"]): AppError {
  const fields = problems.map((problem) => ({ ...problem, location }));
  const summary = fields.map((f) => `${location}.${f.field}: ${f.message}`).join("; ");
  return new AppError("validation_failed", `Invalid ${location}: ${summary}`, { fields });
}
