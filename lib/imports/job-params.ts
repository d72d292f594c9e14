/**
 * The shapes of an import job: its params (what POST /api/imports decided), each
 * chunk's payload (where in which file it reads), the counters every import shows.
 */
import { z } from "zod";

export const IMPORT_KIND = "import";

const FileType = z.enum(["purchases", "settlements"]);

/**
 * Jobs and chunks stored before `kind` was renamed (to file_type in params, fileType in
 * a chunk's layout) still parse, so a deploy never fails the imports it finds running.
 */
function renamedFrom<T extends z.ZodTypeAny>(oldName: string, newName: string, schema: T) {
  return z.preprocess((value) => {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
    const { [oldName]: old, ...rest } = value as Record<string, unknown>;
    return old !== undefined && rest[newName] === undefined ? { ...rest, [newName]: old } : value;
  }, schema);
}

const ImportParamsShape = z.object({
  file_type: FileType,
  files: z
    .array(
      z.object({
        id: z.string().uuid(),
        key: z.string(),
        name: z.string(),
        size: z.number().int().min(0),
        position: z.number().int().min(0),
        /** A workbook: the sheet to import (null: the one whose header fits). */
        sheet: z.string().nullable().default(null),
      }),
    )
    .min(1)
    .max(200),
  /** Settlements: the store named by the request (already checked to exist). */
  store_id: z.number().int().nullable().default(null),
  lenient_amounts: z.boolean().default(false),
  dry_run: z.boolean().default(false),
  /** Start a reconcile run over what the import landed when it ends. */
  reconcile: z.boolean().default(false),
  callback_url: z.string().url().nullable().default(null),
});
export const ImportParams = renamedFrom("kind", "file_type", ImportParamsShape);
export type ImportParams = z.infer<typeof ImportParamsShape>;

export const ChunkPayload = z.object({
  file_id: z.string().uuid(),
  position: z.number().int(),
  key: z.string(),
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  first_line: z.number().int().min(1),
  store_id: z.number().int().nullable(),
  repeated: z.array(z.string()).default([]),
  /**
   * A workbook's chunk (it reads the CSV the planner converted the sheet to): the sheet,
   * and where CSV lines and Excel rows part within the chunk (lib/imports/xlsx/convert.ts),
   * so row errors name Excel's row and cell.
   */
  sheet: z
    .object({ name: z.string(), shifts: z.array(z.tuple([z.number().int(), z.number().int()])).default([]) })
    .nullable()
    .default(null),
  layout: renamedFrom(
    "kind",
    "fileType",
    z.object({
      fileType: FileType,
      delimiter: z.enum([",", ";", "\t"]),
      header: z.array(z.string()),
    }),
  ),
});
export type ChunkPayload = z.infer<typeof ChunkPayload>;

/** The counters of every import, zero where a file type has none (the status API shows them all). */
export const IMPORT_COUNTERS = [
  "rows",
  "row_errors",
  "warnings",
  "orders_inserted",
  "orders_updated",
  "orders_unchanged",
  "lines",
  "settlements_inserted",
  "settlements_updated",
  "settlements_unchanged",
] as const;
