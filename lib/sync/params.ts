/**
 * The shapes of a sync run: the job's params, its chunks' payloads, and the request
 * that starts one (POST /api/sync/:source).
 */
import { z } from "zod";
import { SYNC_MODES, SYNC_SOURCES } from "../db/schema.js";

export const SYNC_KIND = "sync";

export const SyncParams = z.object({
  source: z.enum(SYNC_SOURCES),
  account: z.string().min(1).max(40),
  mode: z.enum(SYNC_MODES),
  /** Incremental SAP runs: items updated on or after this day. */
  since: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).nullable(),
  /** Who started it: the cron, or an API caller. */
  trigger: z.enum(["cron", "api"]),
});
export type SyncParams = z.infer<typeof SyncParams>;

/** How many times a page may use up its request timeout (a hang) before it is a gap. */
export const MAX_PAGE_TIMEOUTS = 3;

export const SyncPayload = z.discriminatedUnion("step", [
  /** Count, log in, and cut the run into page ranges. */
  z.object({ step: z.literal("start") }),
  /** eMAG pages from..to (to null: until a short page), the next to read at `cursor`. */
  z.object({
    step: z.literal("emag_pages"),
    from: z.number().int().min(1),
    to: z.number().int().min(1).nullable(),
    cursor: z.number().int().min(1),
    timeouts: z.number().int().min(0),
  }),
  /** SAP ItemCodes after `after` (null: from the first) up to and including `until` (null: to the last). */
  z.object({
    step: z.literal("sap_range"),
    after: z.string().nullable(),
    until: z.string().nullable(),
    timeouts: z.number().int().min(0),
    /** This range's share of the run's page cap still to read. */
    pages_left: z.number().int().min(0),
  }),
]);
export type SyncPayload = z.infer<typeof SyncPayload>;
export type EmagPagesPayload = Extract<SyncPayload, { step: "emag_pages" }>;
export type SapRangePayload = Extract<SyncPayload, { step: "sap_range" }>;

/** The `[source]` of POST /api/sync/:source. */
export const SyncSourceParams = z.object({ source: z.enum(SYNC_SOURCES) });

/** GET /api/cron/sync-sap: incremental every 15 minutes, `?mode=full` nightly (vercel.json). */
export const SapCronQuery = z.object({ mode: z.enum(SYNC_MODES).default("incremental") });

/** POST /api/sync/:source's body. */
export const SyncRequest = z
  .object({
    /** Default: eMAG "full" (its only mode), SAP "incremental". */
    mode: z.enum(SYNC_MODES).optional(),
    account: z.string().min(1).max(40).optional(),
  })
  .strict();
export type SyncRequest = z.infer<typeof SyncRequest>;
