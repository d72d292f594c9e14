/**
 * The shapes of an import job: its params (what POST /api/imports decided), each
 * chunk's payload (where in which file it reads), the counters every import shows.
 */
import { z } from "zod";

export const IMPORT_KIND = "import";

export const ImportParams = z.object({
  kind: z.enum(["purchases", "settlements"]),
  files: z
    .array(
      z.object({
        id: z.string().uuid(),
        key: z.string(),
        name: z.string(),
        size: z.number().int().min(0),
        position: z.number().int().min(0),
      }),
    )
    .min(1)
    .max(200),
  /** Settlements: the store named by the request (already checked to exist). */
  store_id: z.number().int().nullable().default(null),
  lenient_amounts: z.boolean().default(false),
  dry_run: z.boolean().default(false),
  callback_url: z.string().url().nullable().default(null),
});
export type ImportParams = z.infer<typeof ImportParams>;

export const ChunkPayload = z.object({
  file_id: z.string().uuid(),
  position: z.number().int(),
  key: z.string(),
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  first_line: z.number().int().min(1),
  store_id: z.number().int().nullable(),
  repeated: z.array(z.string()).default([]),
  layout: z.object({
    kind: z.enum(["purchases", "settlements"]),
    delimiter: z.enum([",", ";", "\t"]),
    header: z.array(z.string()),
  }),
});
export type ChunkPayload = z.infer<typeof ChunkPayload>;

/** The counters of every import, zero where a kind has none (the status API shows them all). */
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
