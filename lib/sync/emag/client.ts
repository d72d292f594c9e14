/**
 * The eMAG Marketplace API client for offers (`product_offer/read` and `/count`):
 * Basic auth, top-level JSON bodies, at most 100 offers a page, every request paced
 * by the account's shared limiter, and every answer classified (../errors.ts):
 *  - 429 (a gateway body, not the isError envelope): throttled; the account's pace is
 *    held off for a jittered 1-3 s, since eMAG sends no Retry-After;
 *  - 401/403, or isError with "not allowed to use this API" / "Invalid vendor ip":
 *    fatal (credentials or the IP allow-list);
 *  - 5xx, gateway pages, timeouts, resets: transient;
 *  - anything without `isError: false`, non-JSON, a count that is not a number:
 *    bad data, never an empty page or zero.
 */
import { z } from "zod";
import type { EmagAccount } from "../../config.js";
import { observed, UpstreamError } from "../errors.js";
import type { RequestPacer } from "../pacer.js";
import { isTransientStatus, sendUpstream, type UpstreamResponse } from "../request.js";

/** eMAG's documented maximum page size. */
export const EMAG_PAGE_SIZE = 100;

/** What one call needs from the invocation: its budget, and where its statistics go. */
export interface CallContext {
  timeLeftMs(): number;
  signal?: AbortSignal;
  count(name: "throttled", n?: number): void;
  /** A request is about to go out (counted before it is sent). */
  sending(): Promise<void>;
  /** One request ended (its outcome and latency, for the metrics). */
  observe?(outcome: string, seconds: number): void;
}

export interface EmagClient {
  readonly account: EmagAccount;
  /** The offers eMAG says the account has (product_offer/count). */
  countOffers(ctx: CallContext): Promise<number>;
  /** One page of offers, 1-based (product_offer/read); raw, as eMAG sent them. */
  readOffers(page: number, ctx: CallContext): Promise<unknown[]>;
}

export interface EmagClientOptions {
  account: EmagAccount;
  pacer: RequestPacer;
  timeoutMs: number;
  /** Appended as X-Forwarded-For (the simulator's allow-list tests); never set in production. */
  forwardedFor?: string;
}

const Envelope = z.object({
  isError: z.boolean(),
  messages: z.array(z.unknown()).optional(),
  results: z.unknown(),
});

/** Counts arrive as strings ("38") or numbers: both, but only whole numbers. */
const CountNumber = z.union([z.number().int().min(0), z.string().regex(/^\s*\d+\s*$/).transform(Number)]);
const CountResults = z.object({ noOfItems: CountNumber });

const FATAL_MESSAGES = [/not allowed to use this api/i, /invalid vendor ip/i];

export function createEmagClient(options: EmagClientOptions): EmagClient {
  const { account, pacer } = options;
  const authorization = `Basic ${Buffer.from(`${account.username}:${account.password}`).toString("base64")}`;

  async function call(action: string, body: Record<string, unknown>, ctx: CallContext): Promise<unknown> {
    const needsMs = Math.min(options.timeoutMs, 5_000);
    const granted = await pacer.acquire(Math.max(0, ctx.timeLeftMs() - needsMs), ctx.signal);
    if (!granted) {
      throw new UpstreamError("throttled", `account ${account.name}: no request slot within the time left`, { budgetRanOut: true });
    }
    await ctx.sending();
    return observed(ctx.observe, async () => {
    const response = await sendUpstream({
      url: `${account.platformUrl}/${action}`,
      method: "POST",
      headers: {
        authorization,
        "content-type": "application/json",
        accept: "application/json",
        ...(options.forwardedFor ? { "x-forwarded-for": options.forwardedFor } : {}),
      },
      body: JSON.stringify(body),
      timeoutMs: options.timeoutMs,
      timeLeftMs: ctx.timeLeftMs(),
      budget: ctx.signal,
    });
    return envelopeResults(action, response, ctx);
    });
  }

  async function envelopeResults(action: string, response: UpstreamResponse, ctx: CallContext): Promise<unknown> {
    const where = `eMAG ${action} (account ${account.name})`;
    if (response.status === 429) {
      ctx.count("throttled");
      const retryAfterS = Number(response.headers.get("retry-after"));
      const holdMs = Number.isFinite(retryAfterS) && retryAfterS > 0 ? retryAfterS * 1000 : 1_000 + Math.random() * 2_000;
      await pacer.holdOff(holdMs);
      throw new UpstreamError("throttled", `${where}: 429 API rate limit exceeded`, { status: 429, retryAfterMs: holdMs });
    }
    const parsed = parseJson(response.text);
    const envelope = Envelope.safeParse(parsed);
    const messages = envelope.success ? messageTexts(envelope.data.messages) : [];
    if (response.status === 401 || response.status === 403) {
      throw new UpstreamError("fatal", `${where}: ${response.status} ${messages.join("; ") || "credentials refused"}`, {
        status: response.status,
      });
    }
    if (isTransientStatus(response.status)) {
      throw new UpstreamError("transient", `${where}: HTTP ${response.status}`, { status: response.status });
    }
    if (response.status !== 200) {
      throw new UpstreamError("fatal", `${where}: HTTP ${response.status} (is platform_url right?)`, { status: response.status });
    }
    if (!envelope.success) {
      const what = parsed === undefined ? "a body that is not JSON" : "JSON without the isError envelope";
      throw new UpstreamError("bad_data", `${where}: ${what}`, { status: 200 });
    }
    if (envelope.data.isError) {
      const text = messages.join("; ") || "isError without a message";
      const fatal = FATAL_MESSAGES.some((pattern) => pattern.test(text));
      throw new UpstreamError(fatal ? "fatal" : "bad_data", `${where}: ${text}`, { status: 200 });
    }
    return envelope.data.results;
  }

  return {
    account,
    async countOffers(ctx) {
      const results = await call("product_offer/count", { itemsPerPage: EMAG_PAGE_SIZE }, ctx);
      const counted = CountResults.safeParse(results);
      if (!counted.success) {
        throw new UpstreamError("bad_data", `eMAG product_offer/count (account ${account.name}): noOfItems is not a whole number`);
      }
      return counted.data.noOfItems;
    },
    async readOffers(page, ctx) {
      const results = await call("product_offer/read", { currentPage: page, itemsPerPage: EMAG_PAGE_SIZE }, ctx);
      if (!Array.isArray(results)) {
        throw new UpstreamError("bad_data", `eMAG product_offer/read (account ${account.name}) page ${page}: results is not a list`);
      }
      return results;
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** Messages come as strings or as { code, message } / { text } objects. */
function messageTexts(messages: unknown[] | undefined): string[] {
  return (messages ?? []).map((message) => {
    if (typeof message === "string") return message;
    if (message && typeof message === "object") {
      const record = message as Record<string, unknown>;
      const text = record.message ?? record.text ?? record.msg;
      if (typeof text === "string") return text;
    }
    return JSON.stringify(message);
  });
}
