/**
 * A catalogue item as both sources become it before the compare-and-sync upsert: the
 * key (eMAG offer id, SAP ItemCode) and the compared fields (name, sku, price with
 * its currency, stock, status), with the upstream record kept as it came.
 */
import { createHash } from "node:crypto";

export interface CatalogueItemInput {
  externalId: string;
  sku: string | null;
  name: string | null;
  /** numeric(14,4) as text, always with four decimals, so equal prices compare (and hash) equal. */
  price: string | null;
  currency: string | null;
  stock: number | null;
  status: string | null;
  raw: unknown;
}

/** An item the upstream sent that cannot be a catalogue item (no usable key): skipped and counted. */
export interface RejectedItem {
  reason: string;
}

const MAX_PRICE = 1e10;

/** A price as numeric(14,4) text, or null when there is none or it is not a usable number. */
export function priceText(value: unknown): string | null {
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isFinite(number) || Math.abs(number) >= MAX_PRICE) return null;
  return number.toFixed(4);
}

/** Text kept short and free of NUL (which Postgres text refuses). */
export function cleanText(value: unknown, max = 500): string | null {
  if (typeof value !== "string" && typeof value !== "number") return null;
  const text = String(value).replaceAll("\u0000", "").trim();
  return text === "" ? null : text.slice(0, max);
}

export function wholeNumber(value: unknown): number | null {
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isFinite(number)) return null;
  return Math.max(-2_147_483_648, Math.min(2_147_483_647, Math.trunc(number)));
}

/** The hash of the compared fields: an item whose hash did not change is "unchanged". */
export function contentHash(item: CatalogueItemInput): string {
  const compared = [item.name, item.sku, item.price, item.currency, item.stock, item.status];
  return createHash("sha256").update(JSON.stringify(compared)).digest("base64url").slice(0, 22);
}

/**
 * Our handle for an item: its name made URL-safe, and a suffix from its key (source,
 * account, external id), so it is unique without depending on which item was written
 * first: an interrupted run and an uninterrupted one give every item the same handle.
 * Given once: a later rename does not change it.
 */
export function handleFor(source: string, account: string, externalId: string, name: string | null): string {
  const slug = (name ?? "")
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60)
    .replace(/-+$/g, "");
  const suffix = createHash("sha256").update(`${source}\u0000${account}\u0000${externalId}`).digest("hex").slice(0, 10);
  return slug === "" ? `item-${suffix}` : `${slug}-${suffix}`;
}
