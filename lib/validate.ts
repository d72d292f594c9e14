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

/**
 * Every string in the input (object keys too), checked with unsafeTextProblem. Walks
 * plain objects and arrays only: a Buffer or Blob is bytes, not text.
 */
function unsafeTextFields(input: unknown, path: string[], found: Array<{ field: string; message: string }>): void {
  if (found.length >= 20) return;
  if (typeof input === "string") {
    const message = unsafeTextProblem(input);
    if (message) found.push({ field: path.join(".") || "(root)", message });
    return;
  }
  if (Array.isArray(input)) {
    input.forEach((item, index) => unsafeTextFields(item, [...path, String(index)], found));
    return;
  }
  if (input === null || typeof input !== "object") return;
  const proto = Object.getPrototypeOf(input) as unknown;
  if (proto !== Object.prototype && proto !== null) return;
  for (const [key, value] of Object.entries(input)) {
    const message = unsafeTextProblem(key);
    // The key itself cannot be shown as it came: name the object that holds it.
    if (message) found.push({ field: path.join(".") || "(root)", message: `a property name here ${message}` });
    else unsafeTextFields(value, [...path, key], found);
  }
}

/** A 400 naming every string in `input` that unsafeTextProblem refuses. */
export function assertSafeText(input: unknown, location: FieldProblem["location"], path: string[] = []): void {
  const unsafe: Array<{ field: string; message: string }> = [];
  unsafeTextFields(input, path, unsafe);
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
  const fields = result.error.issues.map((issue) => ({
    field: [...prefix, ...issue.path.map(String)].join(".") || "(root)",
    message: issue.message,
  }));
  throw validationFailed(fields, location);
}

function validationFailed(problems: Array<{ field: string; message: string }>, location: FieldProblem["location"]): AppError {
  const fields = problems.map((problem) => ({ ...problem, location }));
  const summary = fields.map((f) => `${location}.${f.field}: ${f.message}`).join("; ");
  return new AppError("validation_failed", `Invalid ${location}: ${summary}`, { fields });
}
