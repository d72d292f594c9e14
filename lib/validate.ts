import type { z } from "zod";
import { AppError, type FieldProblem } from "./errors.js";

/** Parses input with a zod schema; a failure is a 400 problem naming every bad field. */
export function parseInput<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
  location: FieldProblem["location"],
): z.output<Schema> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fields = result.error.issues.map((issue) => ({
    field: issue.path.map(String).join(".") || "(root)",
    location,
    message: issue.message,
  }));
  const summary = fields.map((f) => `${location}.${f.field}: ${f.message}`).join("; ");
  throw new AppError("validation_failed", `Invalid ${location}: ${summary}`, { fields });
}
