import type { SapItem } from "./types.js";

/** An answer in the Service Layer's error shape: `{"error":{"code":…,"message":{"lang":"en-us","value":…}}}`. */
export class SlError extends Error {
  override name = "SlError";
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The Service Layer's "invalid query" code. */
export const INVALID_QUERY = -1000;

export function invalidQuery(message: string): SlError {
  return new SlError(400, INVALID_QUERY, message);
}

export type FieldType = "string" | "number" | "date" | "collection";

/** In $metadata order, which is also the order of properties in answers. */
export const ITEM_FIELDS: ReadonlyArray<readonly [keyof SapItem, FieldType]> = [
  ["ItemCode", "string"],
  ["ItemName", "string"],
  ["ForeignName", "string"],
  ["ItemsGroupCode", "number"],
  ["BarCode", "string"],
  ["QuantityOnStock", "number"],
  ["Valid", "string"],
  ["Frozen", "string"],
  ["SalesItem", "string"],
  ["InventoryItem", "string"],
  ["CreateDate", "date"],
  ["UpdateDate", "date"],
  ["UpdateTime", "string"],
  ["ItemPrices", "collection"],
];

const TYPES = new Map<string, FieldType>(ITEM_FIELDS);

/** The field's type, or a 400 naming it as the Service Layer does. */
export function fieldType(name: string): FieldType {
  const type = TYPES.get(name);
  if (type === undefined) throw invalidQuery(`Property '${printable(name)}' of 'Item' is invalid`);
  return type;
}

/** Input echoed in an error message, cut short and without control characters. */
export function printable(text: string, max = 80): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, "?");
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
