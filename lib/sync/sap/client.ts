/**
 * The SAP Business One Service Layer client for Items: counts ($count, a plain
 * integer or an error, never NaN read as zero), keyset pages over ItemCode (stable
 * `$orderby=ItemCode`, `ItemCode gt '<last>'` instead of `$skip`, so items added or
 * removed while the run reads cannot shift a page), and the ItemCodes that cut the
 * table into equal ranges for parallel workers. Every request runs on the run's
 * shared session; a 401/403 renews it once (single-flight) and replays the request.
 * Both OData annotation styles (`odata.nextLink`, `@odata.nextLink`) are read.
 */
import { z } from "zod";
import type { SapSettings } from "../../config.js";
import { observed, UpstreamError } from "../errors.js";
import type { CatalogueItemInput, RejectedItem } from "../items.js";
import { cleanText, priceText, wholeNumber } from "../items.js";
import { isTransientStatus, sendUpstream } from "../request.js";
import { type SapSession, type SapSessions, type SessionCallContext, sapErrorText } from "./session.js";

/** The fields a page selects: the compared ones and the key. */
export const ITEM_FIELDS = ["ItemCode", "ItemName", "QuantityOnStock", "Valid", "Frozen", "ItemPrices", "UpdateDate"] as const;
/** The price list whose price is the catalogue price. */
const PRICE_LIST = 1;

export interface ItemsPage {
  items: unknown[];
  /** The server said more rows follow (its page size may be below our $top). */
  more: boolean;
}

export interface SapClient {
  count(filter: string | null, ctx: SessionCallContext): Promise<number>;
  /** Up to `top` items in ItemCode order matching `filter`. */
  page(filter: string | null, top: number, ctx: SessionCallContext): Promise<ItemsPage>;
  /** The ItemCode at 0-based position `skip` in ItemCode order (range boundaries), or null past the end. */
  codeAt(filter: string | null, skip: number, ctx: SessionCallContext): Promise<string | null>;
}

const Collection = z.object({ value: z.array(z.unknown()) }).passthrough();

/** An OData string literal: quotes doubled. */
export const odataString = (value: string) => `'${value.replaceAll("'", "''")}'`;

export function andFilters(...filters: Array<string | null>): string | null {
  const present = filters.filter((filter): filter is string => filter !== null && filter !== "");
  if (present.length === 0) return null;
  return present.map((filter) => (present.length > 1 ? `(${filter})` : filter)).join(" and ");
}

export function createSapClient(options: { settings: SapSettings; sessions: SapSessions; timeoutMs: number; pageSize: number }): SapClient {
  const { settings, sessions } = options;

  async function get(path: string, params: Record<string, string>, ctx: SessionCallContext, pageSize?: number): Promise<string> {
    const query = Object.entries(params)
      .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
      .join("&");
    let session: SapSession = await sessions.current(ctx);
    for (let renewed = false; ; renewed = true) {
      await ctx.sending();
      const current = session;
      const answer = await observed(ctx.observe, async () => {
        const response = await sendUpstream({
          url: `${settings.url}/${path}${query ? `?${query}` : ""}`,
          method: "GET",
          headers: {
            cookie: sessions.cookieHeader(current),
            accept: "application/json",
            ...(pageSize ? { prefer: `odata.maxpagesize=${pageSize}`, "b1s-pagesize": String(pageSize) } : {}),
          },
          timeoutMs: options.timeoutMs,
          timeLeftMs: ctx.timeLeftMs(),
          budget: ctx.signal,
        });
        return classify(path, response, renewed);
      });
      if (answer.sessionRefused) {
        session = await sessions.renew(session, ctx);
        continue;
      }
      return answer.text;
    }
  }

  /** The text of a good answer; a refused session the first time (renew and replay); else the error it is. */
  function classify(path: string, response: { status: number; text: string }, renewed: boolean): { sessionRefused: boolean; text: string } {
    if ((response.status === 401 || response.status === 403) && !renewed) return { sessionRefused: true, text: "" };
    if (response.status === 401 || response.status === 403) {
      throw new UpstreamError("transient", `SAP ${path}: the session was refused again after a new login (${sapErrorText(response.text) ?? response.status})`, {
        status: response.status,
      });
    }
    if (isTransientStatus(response.status)) {
      throw new UpstreamError("transient", `SAP ${path}: HTTP ${response.status}${sapErrorText(response.text) ? ` ${sapErrorText(response.text)}` : ""}`, {
        status: response.status,
      });
    }
    if (response.status !== 200) {
      // A query SAP refuses (400 -1000) will be refused again: this is our bug or SAP's configuration.
      throw new UpstreamError("fatal", `SAP ${path}: HTTP ${response.status} ${sapErrorText(response.text) ?? ""}`.trim(), { status: response.status });
    }
    return { sessionRefused: false, text: response.text };
  }

  async function collection(params: Record<string, string>, pageSize: number, ctx: SessionCallContext) {
    const text = await get("Items", params, ctx, pageSize);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      throw new UpstreamError("bad_data", "SAP Items: the answer is not JSON");
    }
    const page = Collection.safeParse(parsed);
    if (!page.success) throw new UpstreamError("bad_data", "SAP Items: the answer has no value list");
    const next = page.data["odata.nextLink"] ?? page.data["@odata.nextLink"];
    return { items: page.data.value, more: typeof next === "string" && next !== "" };
  }

  return {
    async count(filter, ctx) {
      const text = await get("Items/$count", filter ? { $filter: filter } : {}, ctx);
      if (!/^\s*\d+\s*$/.test(text)) {
        throw new UpstreamError("bad_data", `SAP Items/$count: not a number (${JSON.stringify(text.slice(0, 60))})`);
      }
      return Number(text.trim());
    },
    async page(filter, top, ctx) {
      return collection(
        { $select: ITEM_FIELDS.join(","), ...(filter ? { $filter: filter } : {}), $orderby: "ItemCode", $top: String(top) },
        top,
        ctx,
      );
    },
    async codeAt(filter, skip, ctx) {
      const page = await collection(
        { $select: "ItemCode", ...(filter ? { $filter: filter } : {}), $orderby: "ItemCode", $skip: String(skip), $top: "1" },
        1,
        ctx,
      );
      const [first] = page.items;
      const code = first && typeof first === "object" ? (first as Record<string, unknown>).ItemCode : undefined;
      return typeof code === "string" ? code : null;
    },
  };
}

/** An SAP item as a catalogue item: keyed and sku'd by ItemCode, active when valid and not frozen. */
export function sapItemToItem(item: unknown): CatalogueItemInput | RejectedItem {
  if (!item || typeof item !== "object" || Array.isArray(item)) return { reason: "an item that is not an object" };
  const record = item as Record<string, unknown>;
  const code = typeof record.ItemCode === "string" ? record.ItemCode : null;
  if (!code || code.length > 200 || code.includes("\u0000")) return { reason: `an item without a valid ItemCode (${JSON.stringify(record.ItemCode ?? null)})` };
  const prices = Array.isArray(record.ItemPrices) ? (record.ItemPrices as Array<Record<string, unknown>>) : [];
  const price = prices.find((entry) => entry && entry.PriceList === PRICE_LIST) ?? null;
  const valid = record.Valid === "tYES" && record.Frozen !== "tYES";
  return {
    externalId: code,
    sku: code,
    name: cleanText(record.ItemName),
    price: price ? priceText(price.Price) : null,
    currency: price ? cleanText(price.Currency, 10) : null,
    stock: wholeNumber(record.QuantityOnStock),
    status: record.Valid === undefined ? null : valid ? "active" : "inactive",
    raw: item,
  };
}
