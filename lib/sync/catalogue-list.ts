/**
 * GET /api/catalogue: the synced items, by source, with a search over name, sku and
 * handle, paged by keyset on the item id. Retired items are listed only when asked.
 */
import { invalidCursor, NextCursor } from "../jobs/list-cursor.js";
import { containsPattern } from "../db/like.js";
import { sql } from "drizzle-orm";
import { z } from "zod";
import { type Database, queryRows } from "../db/client.js";
import { SYNC_SOURCES } from "../db/schema.js";

export const CatalogueQuery = z.object({
  source: z.enum(SYNC_SOURCES).optional(),
  account: z.string().min(1).max(40).optional(),
  q: z.string().trim().min(1).max(200).optional(),
  retired: z.enum(["include", "only", "exclude"]).default("exclude"),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(40).optional(),
});
export type CatalogueQuery = z.output<typeof CatalogueQuery>;

export const CatalogueItemViewSchema = z.object({
  source: z.enum(SYNC_SOURCES),
  account: z.string(),
  external_id: z.string().describe("The item's id upstream."),
  handle: z.string().describe("dropflow's stable handle for the item: given once, never changed."),
  sku: z.string().nullable(),
  name: z.string().nullable(),
  price: z.string().nullable().describe("A decimal, as text: exact."),
  currency: z.string().nullable(),
  stock: z.number().int().nullable(),
  status: z.string().nullable(),
  retired_at: z.string().nullable().describe("When a complete run last did not see it; null while it is live."),
  updated_at: z.string(),
});
export type CatalogueItemView = z.infer<typeof CatalogueItemViewSchema>;

/** GET /api/catalogue: a page of items, by id. */
export const CataloguePageSchema = z.object({ items: z.array(CatalogueItemViewSchema), next_cursor: NextCursor });
export type CataloguePage = z.infer<typeof CataloguePageSchema>;

/** LIKE's own wildcards in a search are literal characters. */
export async function listCatalogue(db: Database, query: CatalogueQuery): Promise<CataloguePage> {
  let after: number | null = null;
  if (query.cursor !== undefined) {
    after = Number(Buffer.from(query.cursor, "base64url").toString("utf8"));
    if (!Number.isSafeInteger(after) || after < 0) {
      throw invalidCursor();
    }
  }
  const pattern = query.q ? containsPattern(query.q.replaceAll("\u0000", "")) : null;
  const rows = await queryRows<CatalogueItemView & { id: number } & Record<string, unknown>>(
    db,
    sql`select id, source, account, external_id, handle, sku, name, price::text as price, currency, stock, status,
               to_char(retired_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as retired_at,
               to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as updated_at
        from catalogue_items
        where true
          ${query.source ? sql`and source = ${query.source}` : sql``}
          ${query.account ? sql`and account = ${query.account}` : sql``}
          ${query.retired === "exclude" ? sql`and retired_at is null` : query.retired === "only" ? sql`and retired_at is not null` : sql``}
          ${pattern ? sql`and (name ilike ${pattern} or sku ilike ${pattern} or handle ilike ${pattern})` : sql``}
          ${after !== null ? sql`and id > ${after}` : sql``}
        order by id limit ${query.limit + 1}`,
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map(({ id: _id, ...item }) => item),
    next_cursor: rows.length > query.limit && last ? Buffer.from(String(last.id)).toString("base64url") : null,
  };
}
