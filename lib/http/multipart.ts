/**
 * A multipart/form-data body read into a plain object for a zod schema (parseInput):
 * each text field at most once, and the file parts of one field held in memory, their
 * size checked before any is read. A function's request body is small (4.5 MB on
 * Vercel), so holding it whole is the simple way and costs little.
 */
import { AppError } from "../errors.js";

/** A file part, read. */
export interface FormFile {
  name: string;
  contentType: string;
  bytes: Buffer;
}

export interface FormRules {
  /** The text fields taken from the form; each may be given once. */
  textFields: readonly string[];
  /** The field whose parts are files. */
  fileField: string;
  /** The files in all, in bytes. */
  maxFileBytes: number;
  /** What a body may carry besides its files: boundaries, part headers, the text fields. */
  overheadBytes: number;
  maxFileNameLength: number;
  /** The name of a file part sent without one (a Blob appended without a name is sent as "blob"). */
  defaultFileName: (index: number) => string;
  defaultContentType: string;
  /** The error of a body past the limits: it can say where larger files go. */
  tooLarge: () => AppError;
}

/**
 * The text fields given, and under `fileField` its parts in order: a FormFile each, or
 * the string a text part gave in its place, left for the schema to refuse by index.
 */
export async function readForm(request: Request, rules: FormRules): Promise<Record<string, unknown>> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > rules.maxFileBytes + rules.overheadBytes) throw rules.tooLarge();
  const form = await formDataOf(request);
  const fields: Record<string, unknown> = textFieldsOf(form, rules.textFields);
  const parts = form.getAll(rules.fileField);
  let total = 0;
  for (const part of parts) if (typeof part !== "string") total += part.size;
  if (total > rules.maxFileBytes) throw rules.tooLarge();
  fields[rules.fileField] = await Promise.all(
    parts.map(async (part, index): Promise<FormFile | string> => {
      if (typeof part === "string") return part;
      const name = part.name && part.name !== "blob" ? part.name : rules.defaultFileName(index);
      if (name.length > rules.maxFileNameLength) {
        throw formFieldProblem(`${rules.fileField}.${index}`, `its file name must be at most ${rules.maxFileNameLength} characters`);
      }
      return { name, contentType: part.type || rules.defaultContentType, bytes: Buffer.from(await part.arrayBuffer()) };
    }),
  );
  return fields;
}

/** A 400 naming one field of the form. */
export function formFieldProblem(field: string, message: string): AppError {
  return new AppError("validation_failed", `Invalid body: ${field}: ${message}`, {
    fields: [{ field, location: "body", message }],
  });
}

async function formDataOf(request: Request): Promise<FormData> {
  try {
    return await request.formData();
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    throw new AppError("bad_request", `The multipart body could not be read: ${error.message}`);
  }
}

function textFieldsOf(form: FormData, names: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const name of names) {
    const values = form.getAll(name);
    if (values.length > 1) throw formFieldProblem(name, "give it once");
    const value = values[0];
    if (value === undefined) continue;
    if (typeof value !== "string") throw formFieldProblem(name, "must be a text field, not a file");
    fields[name] = value;
  }
  return fields;
}
