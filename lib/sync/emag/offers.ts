/**
 * An eMAG offer as a catalogue item: keyed by the offer `id` (the seller's product id,
 * per account), sku from `part_number`, price from `sale_price` (without VAT) in the
 * offer's `currency`, stock from `general_stock`, status 0/1/2 named.
 */
import type { CatalogueItemInput, RejectedItem } from "../items.js";
import { cleanText, priceText, wholeNumber } from "../items.js";

const OFFER_STATUS: Record<number, string> = { 0: "inactive", 1: "active", 2: "end_of_life" };

export function offerToItem(offer: unknown): CatalogueItemInput | RejectedItem {
  if (!offer || typeof offer !== "object" || Array.isArray(offer)) return { reason: "an offer that is not an object" };
  const record = offer as Record<string, unknown>;
  const id = wholeNumber(record.id);
  if (id === null || id < 1 || String(record.id).trim() !== String(id)) return { reason: `an offer without a valid id (${JSON.stringify(record.id ?? null)})` };
  const status = wholeNumber(record.status);
  return {
    externalId: String(id),
    sku: cleanText(record.part_number, 200),
    name: cleanText(record.name),
    price: priceText(record.sale_price),
    currency: cleanText(record.currency, 10),
    stock: wholeNumber(record.general_stock),
    status: status === null ? null : (OFFER_STATUS[status] ?? `status_${status}`),
    raw: offer,
  };
}
