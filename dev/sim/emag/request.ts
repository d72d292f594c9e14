/**
 * What an eMAG API call carries: Basic credentials, the client IP and the paging and
 * filter parameters. The body may be top-level JSON, JSON wrapped in `data` (both are
 * used by real clients, docs/local-services.md) or a form with `data[key]=value` fields.
 */
import type { IncomingMessage } from "node:http";
import { isPlainObject } from "./config.js";

export const MAX_ITEMS_PER_PAGE = 100;
const DEFAULT_ITEMS_PER_PAGE = 100;
const MAX_OFFER_ID = 4_294_967_295;

export interface Credentials {
  username: string;
  password: string;
}

export interface ReadParams {
  currentPage: number;
  /** As sent; the route decides what to do when it is over the maximum. */
  itemsPerPage: number;
  filters: OfferFilters;
}

export interface OfferFilters {
  id?: number;
  status?: number;
  part_number?: string;
  part_number_key?: string;
}

export type ParsedBody = { ok: true; params: ReadParams } | { ok: false; message: string };

/** The username and password of a Basic header; null when there is none or it does not parse. */
export function parseBasicAuth(header: string | undefined): Credentials | null {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? "");
  if (!match) return null;
  const decoded = Buffer.from(match[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function clientIp(req: IncomingMessage, ipHeader: string): string {
  const raw = req.headers[ipHeader];
  const value = Array.isArray(raw) ? raw[0] : raw;
  const first = value?.split(",")[0]?.trim();
  if (first) return first;
  const address = req.socket.remoteAddress ?? "";
  return address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
}

export function parseBody(body: Buffer, contentType: string | undefined): ParsedBody {
  const text = body.toString("utf8");
  const trimmed = text.trim();
  let fields: Record<string, unknown>;
  if (trimmed === "") {
    fields = {};
  } else if (/json/i.test(contentType ?? "") || trimmed.startsWith("{") || trimmed.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      if (error instanceof SyntaxError) return { ok: false, message: "Invalid JSON in the request body." };
      throw error;
    }
    if (!isPlainObject(parsed)) return { ok: false, message: "The request body must be a JSON object." };
    fields = isPlainObject(parsed.data) ? parsed.data : parsed;
  } else {
    fields = formFields(text);
  }
  const currentPage = integerField(fields.currentPage, "currentPage", 1);
  if (typeof currentPage === "string") return { ok: false, message: currentPage };
  const itemsPerPage = integerField(fields.itemsPerPage, "itemsPerPage", DEFAULT_ITEMS_PER_PAGE);
  if (typeof itemsPerPage === "string") return { ok: false, message: itemsPerPage };
  return { ok: true, params: { currentPage, itemsPerPage, filters: filtersOf(fields) } };
}

/** `data[currentPage]=1&data[status]=1` (PHP style) or plain `currentPage=1`; the data[] form wins. */
function formFields(text: string): Record<string, unknown> {
  const plain: Record<string, unknown> = {};
  const wrapped: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const inData = /^data\[([^[\]]+)\]$/.exec(key);
    if (inData) wrapped[inData[1] as string] = value;
    else plain[key] = value;
  }
  return Object.keys(wrapped).length > 0 ? wrapped : plain;
}

/** The value as a positive safe integer (numbers or digit strings), or the error message. */
function integerField(value: unknown, name: string, fallback: number): number | string {
  if (value === undefined) return fallback;
  const number = asInteger(value);
  if (number === null || number < 1) return `Invalid value for ${name}: it must be a positive integer.`;
  return number;
}

function asInteger(value: unknown): number | null {
  if (typeof value === "number") return Number.isSafeInteger(value) ? value : null;
  if (typeof value === "string" && /^\s*-?\d{1,16}\s*$/.test(value)) {
    const number = Number(value);
    return Number.isSafeInteger(number) ? number : null;
  }
  return null;
}

/** Filters with a value of the wrong type are ignored, as the spec leaves them (e.g. `"status": "active"`). */
function filtersOf(fields: Record<string, unknown>): OfferFilters {
  const filters: OfferFilters = {};
  const id = asInteger(fields.id);
  if (id !== null && id >= 1 && id <= MAX_OFFER_ID) filters.id = id;
  const status = asInteger(fields.status);
  if (status !== null) filters.status = status;
  for (const key of ["part_number", "part_number_key"] as const) {
    const value = fields[key];
    if (typeof value === "string" && value !== "") filters[key] = value;
  }
  return filters;
}
