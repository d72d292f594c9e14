/**
 * The Items query options ($select, $filter, $orderby, $skip, $top, $inlinecount or
 * $count) and server-driven paging, as docs/local-services.md describes the Service Layer's.
 * The query string is kept piece by piece as the client sent it, so that a nextLink is
 * "the same query with $skip advanced", in the client's own encoding.
 */
import { compileFilter } from "./filter.js";
import { fieldType, invalidQuery, ITEM_FIELDS, printable } from "./fields.js";
import type { SapItem } from "./types.js";

interface Piece {
  /** Decoded name, e.g. "$filter". */
  name: string;
  /** As received, e.g. "%24filter=ItemCode%20eq%20'A'". */
  raw: string;
}

export interface ItemsQuery {
  pieces: Piece[];
  select: Array<keyof SapItem> | null;
  filterText: string | null;
  filter: ((item: SapItem) => boolean) | null;
  orderBy: Array<{ field: keyof SapItem; descending: boolean }>;
  skip: number;
  top: number | null;
  /** $inlinecount=allpages (OData v3) or $count=true (v4). */
  inlineCount: boolean;
}

const OPTIONS = new Set(["$select", "$filter", "$orderby", "$skip", "$top", "$inlinecount", "$count", "$format"]);
const MAX_INTEGER = 2_147_483_647;

/** Query-string decoding as URLSearchParams does it (+ is a space), but with a 400 for bad escapes. */
function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch (error) {
    if (error instanceof URIError) throw invalidQuery(`Invalid percent-encoding in ${printable(what)}`);
    throw error;
  }
}

function integer(value: string, name: string): number {
  if (!/^\d{1,10}$/.test(value.trim()) || Number(value) > MAX_INTEGER) {
    throw invalidQuery(`Invalid ${name} value '${printable(value)}': a non-negative integer is expected`);
  }
  return Number(value);
}

/** The Items query options in `rawQuery` (without "?"), validated; a 400 (code -1000) names what is wrong. */
export function parseItemsQuery(rawQuery: string, odataVersion: 1 | 2): ItemsQuery {
  const pieces: Piece[] = [];
  const values = new Map<string, string>();
  for (const raw of rawQuery.split("&")) {
    if (raw === "") continue;
    const eq = raw.indexOf("=");
    const name = decode(eq === -1 ? raw : raw.slice(0, eq), "a query option name");
    const value = eq === -1 ? "" : decode(raw.slice(eq + 1), name);
    pieces.push({ name, raw });
    // Other parameters (cache busters and the like) are ignored, as by the real one.
    if (!name.startsWith("$")) continue;
    if (!OPTIONS.has(name)) throw invalidQuery(`Query option '${printable(name)}' is not supported`);
    if (values.has(name)) throw invalidQuery(`Query option '${name}' is given more than once`);
    values.set(name, value);
  }
  const query: ItemsQuery = {
    pieces,
    select: null,
    filterText: null,
    filter: null,
    orderBy: [],
    skip: 0,
    top: null,
    inlineCount: false,
  };
  const select = values.get("$select");
  if (select !== undefined) query.select = parseSelect(select);
  const filter = values.get("$filter");
  if (filter !== undefined) {
    query.filterText = filter;
    query.filter = compileFilter(filter);
  }
  const orderBy = values.get("$orderby");
  if (orderBy !== undefined) query.orderBy = parseOrderBy(orderBy);
  const skip = values.get("$skip");
  if (skip !== undefined) query.skip = integer(skip, "$skip");
  const top = values.get("$top");
  if (top !== undefined) query.top = integer(top, "$top");
  const format = values.get("$format");
  if (format !== undefined && format !== "json") throw invalidQuery(`Unsupported $format '${printable(format)}': only json`);
  const inlineCount = values.get("$inlinecount");
  const count = values.get("$count");
  if (odataVersion === 1) {
    if (count !== undefined) throw invalidQuery("Query option '$count' is OData v4: use $inlinecount=allpages on /b1s/v1");
    if (inlineCount !== undefined) {
      if (inlineCount !== "allpages" && inlineCount !== "none") {
        throw invalidQuery(`Invalid $inlinecount value '${printable(inlineCount)}': allpages or none is expected`);
      }
      query.inlineCount = inlineCount === "allpages";
    }
  } else {
    if (inlineCount !== undefined) throw invalidQuery("Query option '$inlinecount' is OData v3: use $count=true");
    if (count !== undefined) {
      if (count !== "true" && count !== "false") throw invalidQuery(`Invalid $count value '${printable(count)}': true or false is expected`);
      query.inlineCount = count === "true";
    }
  }
  return query;
}

export function parseSelect(text: string): Array<keyof SapItem> {
  const names = text.split(",").map((name) => name.trim());
  if (names.length === 1 && names[0] === "*") return ITEM_FIELDS.map(([name]) => name);
  for (const name of names) {
    if (name === "") throw invalidQuery(`Invalid $select '${printable(text)}': an empty property name`);
    fieldType(name);
  }
  return names as Array<keyof SapItem>;
}

function parseOrderBy(text: string): ItemsQuery["orderBy"] {
  return text.split(",").map((part) => {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)(?:\s+(asc|desc))?\s*$/.exec(part);
    if (!match) throw invalidQuery(`Invalid $orderby '${printable(text)}': expected "Property [asc|desc]" items separated by commas`);
    const field = match[1] as string;
    if (fieldType(field) === "collection") throw invalidQuery(`Invalid $orderby: '${field}' is a collection`);
    return { field: field as keyof SapItem, descending: match[2] === "desc" };
  });
}

type Comparable = string | number | null;

function compareValues(a: Comparable, b: Comparable): number {
  // Nulls first in ascending order, as SQL Server and HANA sort them.
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Rows filtered and ordered; `base` is the order without (or, for ties, under) $orderby.
 * `baseByCode`: base is already in ItemCode order, so "$orderby=ItemCode" (what every
 * paging client sends, on every page) needs no sort.
 */
export function selectRows(base: readonly SapItem[], query: ItemsQuery, baseByCode: boolean): SapItem[] {
  const filter = query.filter;
  const rows = filter ? base.filter(filter) : base.slice();
  const first = query.orderBy[0];
  if (baseByCode && query.orderBy.length === 1 && first?.field === "ItemCode") {
    // ItemCode is unique: no ties, so the reverse is exactly the descending sort.
    if (first.descending) rows.reverse();
  } else if (query.orderBy.length > 0) {
    const keys = query.orderBy;
    // Array.prototype.sort is stable: ties keep the base order.
    rows.sort((x, y) => {
      for (const { field, descending } of keys) {
        const order = compareValues(x[field] as Comparable, y[field] as Comparable);
        if (order !== 0) return descending ? -order : order;
      }
      return 0;
    });
  }
  return rows;
}

export interface Page {
  rows: SapItem[];
  /** Rows matching the filter, before $skip and $top. */
  total: number;
  /** Where the next page starts and how much of $top is left, or null at the end. */
  next: { skip: number; top: number | null } | null;
}

/** $skip first, then $top, then the page size (0 = no paging). */
export function page(rows: SapItem[], query: ItemsQuery, pageSize: number): Page {
  const afterSkip = rows.slice(query.skip);
  const wanted = query.top === null ? afterSkip : afterSkip.slice(0, query.top);
  if (pageSize === 0 || wanted.length <= pageSize) return { rows: wanted, total: rows.length, next: null };
  return {
    rows: wanted.slice(0, pageSize),
    total: rows.length,
    next: { skip: query.skip + pageSize, top: query.top === null ? null : query.top - pageSize },
  };
}

/**
 * The query for the next page: the client's pieces with $skip (and a $top still
 * running) replaced in place or appended; without $filter in the "drops-filter" bug mode.
 */
export function nextQuery(query: ItemsQuery, next: { skip: number; top: number | null }, dropFilter: boolean): string {
  const out: string[] = [];
  let skipDone = false;
  let topDone = next.top === null;
  for (const piece of query.pieces) {
    if (piece.name === "$filter" && dropFilter) continue;
    if (piece.name === "$skip") {
      out.push(`$skip=${next.skip}`);
      skipDone = true;
    } else if (piece.name === "$top" && next.top !== null) {
      out.push(`$top=${next.top}`);
      topDone = true;
    } else {
      out.push(piece.raw);
    }
  }
  if (!topDone) out.push(`$top=${next.top}`);
  if (!skipDone) out.push(`$skip=${next.skip}`);
  return out.join("&");
}

/** The item with only the selected properties, in $metadata order. */
export function project(item: SapItem, select: Array<keyof SapItem> | null): Partial<SapItem> {
  if (select === null) return item;
  const wanted = new Set(select);
  const out: Record<string, unknown> = {};
  for (const [name] of ITEM_FIELDS) if (wanted.has(name)) out[name] = item[name];
  return out as Partial<SapItem>;
}
