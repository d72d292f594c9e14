/**
 * The catalogue side of a sync: one set-based upsert per page keyed on the item's
 * stable id (source, account, external id), counting created, updated (a compared
 * field changed, or a retired item came back) and unchanged items; the count of
 * unique items a run saw; and the retire sweep after a complete full run.
 */
import { sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import type { SyncSource } from "../db/schema.js";
import { type CatalogueItemInput, contentHash, handleFor } from "./items.js";

export interface CatalogueWriteCounts {
  created: number;
  updated: number;
  unchanged: number;
}

export interface RunScope {
  source: SyncSource;
  account: string;
  jobId: string;
}

/** jsonb refuses \u0000 in strings; the raw record keeps everything else. */
function rawJson(raw: unknown): string {
  return JSON.stringify(raw ?? null).replaceAll("\\u0000", "");
}

/**
 * Upserts one page of items. An item seen twice in the page counts once (the last
 * copy wins). Every item seen gets `last_seen_job` = this run, so the run's unique
 * items are those rows; `updated_at` moves only when a compared field changed, which
 * is also how RETURNING tells updated from unchanged (`updated_at = now()`: this
 * transaction set it). The handle is set on insert only.
 */
export async function upsertCatalogueItems(tx: Database, scope: RunScope, page: readonly CatalogueItemInput[]): Promise<CatalogueWriteCounts> {
  const byId = new Map<string, CatalogueItemInput>();
  for (const item of page) byId.set(item.externalId, item);
  const items = [...byId.values()];
  if (items.length === 0) return { created: 0, updated: 0, unchanged: 0 };
  const column = <T>(pick: (item: CatalogueItemInput) => T) => sql.param(items.map(pick));
  const written = await queryRows<{ inserted: boolean; changed: boolean }>(
    tx,
    sql`insert into catalogue_items as c
          (source, account, external_id, sku, name, handle, price, currency, stock, status, content_hash, raw,
           first_seen_job, last_seen_job, retired_at, updated_at)
        select ${scope.source}, ${scope.account}, i.external_id, i.sku, i.name, i.handle, i.price, i.currency, i.stock,
               i.status, i.content_hash, i.raw::jsonb, ${scope.jobId}::uuid, ${scope.jobId}::uuid, null, now()
        from unnest(${column((item) => item.externalId)}::text[], ${column((item) => item.sku)}::text[],
                    ${column((item) => item.name)}::text[], ${column((item) => handleFor(scope.source, scope.account, item.externalId, item.name))}::text[],
                    ${column((item) => item.price)}::numeric[], ${column((item) => item.currency)}::text[],
                    ${column((item) => item.stock)}::int[], ${column((item) => item.status)}::text[],
                    ${column((item) => contentHash(item))}::text[], ${column((item) => rawJson(item.raw))}::text[])
          as i(external_id, sku, name, handle, price, currency, stock, status, content_hash, raw)
        on conflict (source, account, external_id) do update set
          sku = excluded.sku, name = excluded.name, price = excluded.price, currency = excluded.currency,
          stock = excluded.stock, status = excluded.status, content_hash = excluded.content_hash, raw = excluded.raw,
          last_seen_job = excluded.last_seen_job, retired_at = null,
          updated_at = case when c.content_hash is distinct from excluded.content_hash or c.retired_at is not null
                            then now() else c.updated_at end
        returning (xmax = 0) as inserted, (updated_at = now()) as changed`,
  );
  const created = written.filter((row) => row.inserted).length;
  const updated = written.filter((row) => !row.inserted && row.changed).length;
  return { created, updated, unchanged: written.length - created - updated };
}

/** Unique items this run wrote (seen), of its source and account. */
export async function countSeen(db: Database, scope: RunScope): Promise<number> {
  const [row] = await queryRows<{ seen: number }>(
    db,
    sql`select count(*)::int as seen from catalogue_items
        where source = ${scope.source} and account = ${scope.account} and last_seen_job = ${scope.jobId}::uuid`,
  );
  return row?.seen ?? 0;
}

/** Soft-deletes the items of the source and account this run did not see; how many. */
export async function retireUnseen(tx: Database, scope: RunScope): Promise<number> {
  const rows = await queryRows<{ n: number }>(
    tx,
    sql`with retired as (
          update catalogue_items set retired_at = now(), updated_at = now()
          where source = ${scope.source} and account = ${scope.account} and retired_at is null
            and last_seen_job is distinct from ${scope.jobId}::uuid
          returning 1)
        select count(*)::int as n from retired`,
  );
  return rows[0]?.n ?? 0;
}
