import { asc } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { stores } from "../db/schema.js";

export interface StoreSummary {
  id: number;
  name: string;
  channel: string;
}

export async function listStores(db: Database): Promise<StoreSummary[]> {
  return db
    .select({ id: stores.id, name: stores.name, channel: stores.channel })
    .from(stores)
    .orderBy(asc(stores.name), asc(stores.id));
}
