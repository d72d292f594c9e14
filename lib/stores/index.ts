import { asc } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../db/client.js";
import { stores } from "../db/schema.js";

export const StoreSummarySchema = z.object({ id: z.number().int(), name: z.string(), channel: z.string() });
export type StoreSummary = z.infer<typeof StoreSummarySchema>;

/** GET /api/stores: every store, by name. */
export const StoreListSchema = z.object({ stores: z.array(StoreSummarySchema) });
export type StoreList = z.infer<typeof StoreListSchema>;

export async function listStores(db: Database): Promise<StoreSummary[]> {
  return db
    .select({ id: stores.id, name: stores.name, channel: stores.channel })
    .from(stores)
    .orderBy(asc(stores.name), asc(stores.id));
}
