/**
 * The body of POST /api/imports, in either form, read into an ImportRequest:
 * - JSON: `{ file_type, files: [{ key | url, name }], store?, lenient_amounts?, dry_run?,
 *   reconcile?, callback_url? }`, the files already in object storage (POST /api/uploads);
 * - multipart/form-data: the same fields as text parts, and one or more `files` parts
 *   of at most 4 MiB in all (a function's request body is capped at 4.5 MB; larger
 *   files go through client uploads).
 * Any other content type is a 415. Validation errors name the field (`file_type`, `files.1`,
 * `dry_run`, `callback_url`). `kind` is the earlier name of `file_type` and is still
 * accepted (docs/imports.md), so callers written against it keep working.
 */
import { z } from "zod";
import { AppError } from "../errors.js";
import { type FormFile, readForm } from "../http/multipart.js";
import { readJsonBody } from "../http/route.js";
import { parseInput } from "../validate.js";

/** The files of one multipart request, in all. */
export const MULTIPART_MAX_BYTES = 4 * 1024 * 1024;
/** What a multipart body may carry besides its files: boundaries, part headers, the text fields. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
const MAX_FILES = 200;
const MAX_NAME_LENGTH = 255;
/** Excel's own limit on a sheet name. */
const MAX_SHEET_NAME_LENGTH = 31;

/** What both forms come down to, the files aside. */
export interface ImportSettings {
  file_type: FileType;
  store?: string | undefined;
  lenient_amounts: boolean;
  dry_run: boolean;
  /** Start a reconcile run over what the import landed once it ends (lib/reconcile/after-import.ts). */
  reconcile: boolean;
  callback_url: string | null;
  /** Workbooks: the sheet to import from each (a file's own `sheet` wins); null: the one whose header fits. */
  sheet: string | null;
}

/** A file the JSON form names in object storage, by exactly one of key and url. */
export interface FileReference {
  key?: string | undefined;
  url?: string | undefined;
  name: string;
  /** A workbook: the sheet to import. */
  sheet?: string | undefined;
}

/** A request to import: files named in object storage (JSON), or sent in the request (multipart). */
export type ImportRequest =
  | { form: "json"; settings: ImportSettings; files: FileReference[] }
  | { form: "multipart"; settings: ImportSettings; files: FormFile[] };

const FileRef = z
  .object({
    key: z.string().min(1).optional(),
    url: z.string().url().optional(),
    name: z.string().min(1).max(MAX_NAME_LENGTH),
    sheet: z.string().trim().min(1).max(MAX_SHEET_NAME_LENGTH).optional().describe("A workbook (.xlsx): the sheet to import; without it, the one sheet whose header fits."),
  })
  .refine((file) => Boolean(file.key) !== Boolean(file.url), { message: "give exactly one of key or url" });

const blankAsUndefined = (value: unknown) => (typeof value === "string" && value.trim() === "" ? undefined : value);

const FILE_TYPES = ["purchases", "settlements"] as const;
type FileType = (typeof FILE_TYPES)[number];

const common = {
  file_type: z.enum(FILE_TYPES).optional(),
  /** Deprecated alias of file_type. */
  kind: z.enum(FILE_TYPES).optional(),
  store: z.preprocess(blankAsUndefined, z.string().trim().min(1).max(200).optional()),
  lenient_amounts: z.boolean().default(false),
  dry_run: z.boolean().default(false),
  reconcile: z.boolean().default(false),
  callback_url: z.preprocess(blankAsUndefined, z.string().url().optional()),
  sheet: z.preprocess(
    blankAsUndefined,
    z.string().trim().min(1).max(MAX_SHEET_NAME_LENGTH).optional().describe("Workbooks (.xlsx): the sheet to import from each file (a file's own `sheet` wins)."),
  ),
};

/** Exactly one file type, named by file_type or by its alias kind. */
function requireFileType<T extends { file_type?: FileType | undefined; kind?: FileType | undefined }>(
  body: T,
  ctx: z.RefinementCtx,
): void {
  if (body.file_type === undefined && body.kind === undefined) {
    ctx.addIssue({ code: "custom", path: ["file_type"], message: 'required: "purchases" or "settlements"' });
  } else if (body.file_type !== undefined && body.kind !== undefined && body.file_type !== body.kind) {
    ctx.addIssue({ code: "custom", path: ["kind"], message: "is the old name of file_type and must not differ from it" });
  }
}

/** The JSON form: files already in object storage, each by its key or its storage URL. */
export const CreateImportJson = z
  .object({ ...common, files: z.array(FileRef).min(1).max(MAX_FILES) })
  .superRefine(requireFileType);

/** A form's checkbox or text: true/false, 1/0, on/off, yes/no; empty means "not given". */
const formBoolean = z.preprocess(
  (value) => {
    if (typeof value !== "string") return value;
    const text = value.trim().toLowerCase();
    if (text === "") return undefined;
    if (["true", "1", "on", "yes"].includes(text)) return true;
    if (["false", "0", "off", "no"].includes(text)) return false;
    return value;
  },
  z.boolean({ message: "must be true or false" }).default(false),
);

/** The multipart form: the same fields as text parts, and one or more `files` parts. */
export const CreateImportForm = z
  .object({
    ...common,
    lenient_amounts: formBoolean,
    dry_run: formBoolean,
    reconcile: formBoolean,
    files: z
      .array(
        z
          .custom<FormFile>((value) => value !== null && typeof value === "object", { message: "must be a file part" })
          // JSON Schema cannot say "a file part" by itself: how OpenAPI 3.1 names one.
          .meta({ override: { type: "string", contentMediaType: "text/csv" } }),
      )
      .min(1, { message: "give at least one files part" })
      .max(MAX_FILES),
  })
  .superRefine(requireFileType);

const TEXT_FIELDS = ["file_type", "kind", "store", "lenient_amounts", "dry_run", "reconcile", "callback_url", "sheet"] as const;

/** Reads and validates the body of POST /api/imports by its content type. */
export async function readImportRequest(request: Request): Promise<ImportRequest> {
  const type = (request.headers.get("content-type") ?? "").toLowerCase();
  if (type.startsWith("multipart/form-data")) {
    const form = await readImportForm(request);
    return { form: "multipart", settings: settingsOf(form), files: form.files };
  }
  if (/^application\/([a-z.+-]*\+)?json\b/.test(type)) {
    const body = parseInput(CreateImportJson, await readJsonBody(request), "body");
    return { form: "json", settings: settingsOf(body), files: body.files };
  }
  throw new AppError("unsupported_media_type", "The body must be JSON (application/json) or multipart/form-data.");
}

type ParsedSettings = Omit<ImportSettings, "callback_url" | "file_type" | "sheet"> & {
  file_type?: FileType | undefined;
  kind?: FileType | undefined;
  callback_url?: string | undefined;
  sheet?: string | undefined;
};

function settingsOf(body: ParsedSettings): ImportSettings {
  const fileType = body.file_type ?? body.kind;
  // requireFileType has refused a body without either.
  if (fileType === undefined) throw new Error("file_type missing after validation");
  return {
    file_type: fileType,
    store: body.store,
    lenient_amounts: body.lenient_amounts,
    dry_run: body.dry_run,
    reconcile: body.reconcile,
    callback_url: body.callback_url ?? null,
    sheet: body.sheet ?? null,
  };
}

async function readImportForm(request: Request): Promise<z.output<typeof CreateImportForm>> {
  const fields = await readForm(request, {
    textFields: TEXT_FIELDS,
    fileField: "files",
    maxFileBytes: MULTIPART_MAX_BYTES,
    overheadBytes: MULTIPART_OVERHEAD_BYTES,
    maxFileNameLength: MAX_NAME_LENGTH,
    defaultFileName: (index) => `file-${index + 1}.csv`,
    defaultContentType: "text/csv",
    tooLarge: () =>
      new AppError(
        "payload_too_large",
        `The files of a multipart import may total at most ${MULTIPART_MAX_BYTES} bytes (4 MiB); ` +
          "upload larger files through POST /api/uploads and import them by key.",
      ),
  });
  return parseInput(CreateImportForm, fields, "body");
}
