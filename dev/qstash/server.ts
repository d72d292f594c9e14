/**
 * A local QStash-compatible server: the documented subset of QStash's REST API that the
 * real `@upstash/qstash` Client uses to publish (docs/local-services.md), and deliveries that
 * the real `Receiver` verifies. Used by `npm run dev` (embedded), by the tests and by
 * the benchmarks; production talks to Upstash through the same Client.
 *
 *   POST /v2/publish/{destination}   one message; the destination is raw in the path
 *   POST /v2/batch                   [{ destination, headers, body, queue? }]
 *
 * Not implemented (answered 404/400): URL groups, queues, schedules, the DLQ, logs and
 * the message and flow-control management APIs.
 *
 *   tsx dev/qstash/server.ts [--port 8080] [--host 127.0.0.1] [--token T]
 *     [--current-signing-key K] [--next-signing-key K] [--time-scale 1]
 */
import { createHash, randomBytes } from "node:crypto";
import { constantTimeEqual } from "../../lib/auth/bearer.js";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { logger } from "../../lib/log/index.js";
import { compileRetryDelay, parseDurationMs, parseFlowControl, type FlowSettings } from "./parse.js";
import {
  type CallbackTarget,
  DeliveryScheduler,
  type MessageInfo,
  type MessageSpec,
  newMessageId,
  type SchedulerStats,
} from "./scheduler.js";
import { listenOn } from "../servers/listen.js";

export type { AttemptRecord, MessageInfo, MessageState, SchedulerStats } from "./scheduler.js";

const log = logger("qstash");

export interface QstashServerOptions {
  /** 0 (the default) picks a free port; avoid fetch's "bad ports" (6000, 6665-6669, …). */
  port?: number;
  host?: string;
  /** The bearer the Client must send (QSTASH_TOKEN). */
  token: string;
  /** Deliveries are signed with this key (QSTASH_CURRENT_SIGNING_KEY). */
  currentSigningKey: string;
  /** Reported only; QStash signs with the current key (QSTASH_NEXT_SIGNING_KEY). */
  nextSigningKey?: string;
  /** Multiplies every delay, backoff and Retry-After wait; 0.001 makes a 12 s backoff 12 ms. */
  timeScale?: number;
  /** How long a deduplication id (or content hash) is remembered. Default 10 minutes. */
  dedupWindowMs?: number;
  /** Deliveries in flight at once over all keys. Default 100 (QStash pay-as-you-go's cap). */
  maxInFlight?: number;
  /** Per-attempt timeout when a message names none. Default 15 minutes. */
  defaultTimeoutMs?: number;
  /** `Upstash-Retries` when a message names none. Default 3. */
  defaultRetries?: number;
  /** Largest message body accepted (413 above). Default 10 MB (pay-as-you-go). */
  maxMessageBytes?: number;
  /** Finished messages kept for `messages()`. Default 1,000. */
  historyLimit?: number;
}

export interface QstashServerStats extends SchedulerStats {
  published: number;
  deduplicated: number;
  rejected: number;
}

export interface QstashServer {
  /** The value for QSTASH_URL / the Client's `baseUrl`. */
  url: string;
  port: number;
  token: string;
  currentSigningKey: string;
  nextSigningKey: string;
  stats(): QstashServerStats;
  /** The next `count` delivery attempts are lost: no response, no retry, no callback (0 cancels). */
  dropNext(count: number): void;
  /** The next `count` messages offered are refused (publish: 500; batch: an error entry); 0 cancels. */
  rejectNext(count: number): void;
  /** Holds deliveries (publishing still works) until resume(). */
  pause(): void;
  resume(): void;
  /** Resolves once nothing is scheduled, waiting or in flight; rejects after `timeoutMs`. */
  idle(timeoutMs?: number): Promise<void>;
  /** Finished messages (bounded history) then the unfinished ones, without bodies. */
  messages(): MessageInfo[];
  message(messageId: string): MessageInfo | undefined;
  close(): Promise<void>;
}

const DEFAULTS = {
  timeScale: 1,
  dedupWindowMs: 10 * 60_000,
  maxInFlight: 100,
  defaultTimeoutMs: 15 * 60_000,
  defaultRetries: 3,
  maxMessageBytes: 10 * 1024 * 1024,
  historyLimit: 1_000,
};
/** Deduplication ids remembered at most, whatever the window (oldest forgotten first). */
const MAX_DEDUP_ENTRIES = 200_000;
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]);
const PUBLISH_PREFIX = "/v2/publish/";

class PublishError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Offer {
  destination: string;
  /** Lower-case names; the upstash-* settings and the forwarded headers. */
  headers: Record<string, string>;
  body: Buffer;
}

type OfferResult = { messageId: string; url: string; deduplicated?: true } | { error: string };

export async function startQstashServer(options: QstashServerOptions): Promise<QstashServer> {
  const settings = { ...DEFAULTS, ...definedOnly(options) };
  if (!(settings.timeScale >= 0)) throw new Error("timeScale must be a number ≥ 0");
  const nextSigningKey = options.nextSigningKey ?? options.currentSigningKey;
  const scheduler = new DeliveryScheduler({
    signingKey: options.currentSigningKey,
    timeScale: settings.timeScale,
    maxInFlight: settings.maxInFlight,
    defaultTimeoutMs: settings.defaultTimeoutMs,
    historyLimit: settings.historyLimit,
    maxResponseBodyBytes: 256 * 1024,
  });
  // id → message id, in insertion order, so expiry walks from the front.
  const dedup = new Map<string, { messageId: string; expiresAt: number }>();
  const counters = { published: 0, deduplicated: 0, rejected: 0 };
  let rejectBudget = 0;

  function authorized(req: IncomingMessage): boolean {
    const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
    return match !== null && constantTimeEqual((match[1] as string).trim(), options.token);
  }

  function offer(input: Offer): OfferResult {
    const spec = toSpec(input, settings);
    if (rejectBudget > 0) {
      rejectBudget -= 1;
      counters.rejected += 1;
      return { error: "the QStash stand-in refused this message on purpose (rejectNext)" };
    }
    const dedupKeys = dedupKeysOf(input);
    const now = Date.now();
    forgetExpired(now);
    for (const key of dedupKeys) {
      const seen = dedup.get(key);
      if (seen && seen.expiresAt > now) {
        counters.deduplicated += 1;
        return { messageId: seen.messageId, url: input.destination, deduplicated: true };
      }
    }
    const messageId = newMessageId();
    for (const key of dedupKeys) {
      dedup.delete(key);
      dedup.set(key, { messageId, expiresAt: now + settings.dedupWindowMs });
    }
    while (dedup.size > MAX_DEDUP_ENTRIES) dedup.delete(dedup.keys().next().value as string);
    counters.published += 1;
    scheduler.accept(spec, messageId);
    return { messageId, url: input.destination };
  }

  function forgetExpired(now: number): void {
    for (const [key, entry] of dedup) {
      if (entry.expiresAt > now) break;
      dedup.delete(key);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? "/";
    if (req.method !== "POST" || !(rawUrl.startsWith(PUBLISH_PREFIX) || rawUrl.split("?")[0] === "/v2/batch")) {
      req.resume();
      answer(res, 404, { error: `${req.method} ${rawUrl.split("?")[0]} is not part of the QStash stand-in` });
      return;
    }
    if (!authorized(req)) {
      req.resume();
      answer(res, 401, { error: "Unauthorized" });
      return;
    }
    if (rawUrl.startsWith(PUBLISH_PREFIX)) {
      const body = await readBody(req, settings.maxMessageBytes);
      const headers = messageHeaders(req.headers);
      const result = offer({ destination: rawUrl.slice(PUBLISH_PREFIX.length), headers, body });
      if ("error" in result) throw new PublishError(500, result.error);
      answer(res, result.deduplicated ? 202 : 201, result);
      return;
    }
    // A batch may hold many messages; each is still held to the message limit.
    const raw = await readBody(req, settings.maxMessageBytes * 50);
    let entries: unknown;
    try {
      entries = JSON.parse(raw.toString("utf8"));
    } catch (error) {
      if (error instanceof SyntaxError) throw new PublishError(400, `batch body is not JSON: ${error.message}`);
      throw error;
    }
    if (!Array.isArray(entries)) throw new PublishError(400, "batch body must be a JSON array of messages");
    const results = entries.map((entry: unknown, index): OfferResult => {
      try {
        return offer(batchEntry(entry, index, settings.maxMessageBytes));
      } catch (error) {
        if (error instanceof PublishError) return { error: error.message };
        throw error;
      }
    });
    answer(res, 200, results);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof PublishError) {
        answer(res, error.status, { error: error.message });
        return;
      }
      log.error("the QStash stand-in failed on a request", { err: error, path: (req.url ?? "").split("?")[0] });
      answer(res, 500, { error: "internal error in the QStash stand-in" });
    });
  });
  server.on("clientError", (error, socket) => {
    log.debug("bad request on the QStash stand-in", { err: error });
    socket.destroy();
  });
  const host = options.host ?? "127.0.0.1";
  await listenOn(server, options.port ?? 0, host);
  server.on("error", (error) => log.error("the QStash stand-in server failed", { err: error }));
  const port = (server.address() as AddressInfo).port;
  const hostForClients = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const url = `http://${hostForClients.includes(":") ? `[${hostForClients}]` : hostForClients}:${port}`;

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    token: options.token,
    currentSigningKey: options.currentSigningKey,
    nextSigningKey,
    stats: () => ({ ...scheduler.stats(), ...counters }),
    dropNext: (count) => scheduler.dropNext(count),
    rejectNext: (count) => {
      rejectBudget = count;
    },
    pause: () => scheduler.pause(),
    resume: () => scheduler.resume(),
    idle: (timeoutMs) => scheduler.idle(timeoutMs),
    messages: () => scheduler.messages(),
    message: (messageId) => scheduler.message(messageId),
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        scheduler.close();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

// ── translating a published message ─────────────────────────────────────────

/** The headers that describe a message: upstash-* settings, forwarded headers, content-type. */
function messageHeaders(incoming: IncomingMessage["headers"]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    if (name === "content-type" || name.startsWith("upstash-")) {
      headers[name] = Array.isArray(value) ? value.join(", ") : value;
    }
  }
  return headers;
}

function batchEntry(entry: unknown, index: number, maxBytes: number): Offer {
  if (typeof entry !== "object" || entry === null) throw new PublishError(400, `message ${index} is not an object`);
  const { destination, headers, body, queue } = entry as Record<string, unknown>;
  if (typeof destination !== "string") throw new PublishError(400, `message ${index}: destination must be a string`);
  if (queue !== undefined) {
    throw new PublishError(400, `message ${index}: queues are not supported by the QStash stand-in; use flowControl`);
  }
  const lowered: Record<string, string> = {};
  if (headers !== undefined) {
    if (typeof headers !== "object" || headers === null) {
      throw new PublishError(400, `message ${index}: headers must be an object`);
    }
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value !== "string") throw new PublishError(400, `message ${index}: header ${name} must be a string`);
      const lower = name.toLowerCase();
      if (lower === "content-type" || lower.startsWith("upstash-")) lowered[lower] = value;
    }
  }
  if (body !== undefined && body !== null && typeof body !== "string") {
    throw new PublishError(400, `message ${index}: body must be a string`);
  }
  const bytes = Buffer.from(typeof body === "string" ? body : "", "utf8");
  if (bytes.length > maxBytes) throw new PublishError(413, `message ${index} exceeds ${maxBytes} bytes`);
  return { destination, headers: lowered, body: bytes };
}

function toSpec(input: Offer, settings: typeof DEFAULTS): MessageSpec {
  const { destination, headers, body } = input;
  if (!isHttpUrl(destination)) {
    throw new PublishError(
      400,
      `destination "${destination}" is not an http(s) URL (URL groups and APIs are not supported by the stand-in)`,
    );
  }
  const method = (headers["upstash-method"] ?? "POST").toUpperCase();
  if (!METHODS.has(method)) throw new PublishError(400, `Upstash-Method "${method}" is not supported`);

  const forwarded: Record<string, string> = {};
  if (headers["content-type"] !== undefined) forwarded["content-type"] = headers["content-type"];
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith("upstash-forward-")) forwarded[name.slice("upstash-forward-".length)] = value;
  }

  let flow: FlowSettings | null = null;
  const flowKey = headers["upstash-flow-control-key"];
  if (flowKey !== undefined) {
    const parsed = parseFlowControl(flowKey, headers["upstash-flow-control-value"]);
    if (typeof parsed === "string") throw new PublishError(400, parsed);
    flow = parsed;
  }
  const retryDelaySource = headers["upstash-retry-delay"];
  let retryDelay = null;
  if (retryDelaySource !== undefined) {
    const compiled = compileRetryDelay(retryDelaySource);
    if (typeof compiled === "string") throw new PublishError(400, compiled);
    retryDelay = compiled;
  }

  return {
    role: "message",
    url: destination,
    method,
    headers: forwarded,
    body,
    maxRetries: retriesOf(headers["upstash-retries"], settings.defaultRetries, "Upstash-Retries"),
    retryDelay,
    timeoutMs: durationOf(headers["upstash-timeout"], "Upstash-Timeout"),
    delayMs: delayOf(headers["upstash-not-before"], headers["upstash-delay"], "Upstash"),
    callback: callbackOf(headers, "upstash-callback", settings.defaultRetries),
    failureCallback: callbackOf(headers, "upstash-failure-callback", settings.defaultRetries),
    flow,
    sourceMessageId: null,
  };
}

function callbackOf(headers: Record<string, string>, prefix: string, defaultRetries: number): CallbackTarget | null {
  const url = headers[prefix];
  if (url === undefined) return null;
  const label = prefix.replace(/(^|-)([a-z])/g, (_all, dash: string, letter: string) => dash + letter.toUpperCase());
  if (!isHttpUrl(url)) throw new PublishError(400, `${label} "${url}" is not an http(s) URL`);
  const method = (headers[`${prefix}-method`] ?? "POST").toUpperCase();
  if (!METHODS.has(method)) throw new PublishError(400, `${label}-Method "${method}" is not supported`);
  const forwardPrefix = `${prefix}-forward-`;
  const forwarded: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(forwardPrefix)) forwarded[name.slice(forwardPrefix.length)] = value;
  }
  return {
    url,
    method,
    retries: retriesOf(headers[`${prefix}-retries`], defaultRetries, `${label}-Retries`),
    timeoutMs: durationOf(headers[`${prefix}-timeout`], `${label}-Timeout`),
    delayMs: delayOf(undefined, headers[`${prefix}-delay`], label),
    headers: forwarded,
  };
}

function retriesOf(value: string | undefined, fallback: number, label: string): number {
  if (value === undefined) return fallback;
  const retries = Number(value);
  if (!Number.isInteger(retries) || retries < 0) throw new PublishError(400, `${label} must be an integer ≥ 0`);
  return retries;
}

function durationOf(value: string | undefined, label: string): number | null {
  if (value === undefined) return null;
  const ms = parseDurationMs(value);
  if (ms === null || ms <= 0) throw new PublishError(400, `${label} "${value}" is not a duration`);
  return ms;
}

function delayOf(notBefore: string | undefined, delay: string | undefined, label: string): number {
  if (notBefore !== undefined) {
    const seconds = Number(notBefore);
    if (!Number.isFinite(seconds)) throw new PublishError(400, `${label}-Not-Before must be unix seconds`);
    return Math.max(0, seconds * 1_000 - Date.now());
  }
  if (delay === undefined) return 0;
  const ms = parseDurationMs(delay);
  if (ms === null) throw new PublishError(400, `${label}-Delay "${delay}" is not a duration`);
  return ms;
}

/**
 * A message's deduplication keys: its id, and/or a hash of what QStash hashes for
 * content-based deduplication (destination, body, headers except authorization).
 */
function dedupKeysOf(input: Offer): string[] {
  const keys: string[] = [];
  const id = input.headers["upstash-deduplication-id"];
  if (id !== undefined) keys.push(`id:${id}`);
  if (input.headers["upstash-content-based-deduplication"]?.toLowerCase() === "true") {
    const hash = createHash("sha256").update(input.destination).update("\0");
    for (const name of Object.keys(input.headers).sort()) {
      if (name === "authorization") continue;
      hash.update(`${name}:${input.headers[name]}\n`);
    }
    keys.push(`content:${hash.update("\0").update(input.body).digest("base64url")}`);
  }
  return keys;
}

// ── plumbing ────────────────────────────────────────────────────────────────

function isHttpUrl(value: string): boolean {
  if (!/^https?:\/\//i.test(value)) return false;
  try {
    return new URL(value).hostname !== "";
  } catch (error) {
    if (error instanceof TypeError) return false;
    throw error;
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new PublishError(413, `the body exceeds ${limit} bytes`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}

// ── standalone ──────────────────────────────────────────────────────────────

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : process.argv[index + 1];
}

const invokedAsScript =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;

if (invokedAsScript) {
  const secret = (prefix: string) => `${prefix}_${randomBytes(24).toString("base64url")}`;
  const portArgument = argument("port");
  const timeScale = argument("time-scale");
  const qstash = await startQstashServer({
    port: portArgument === undefined ? 0 : Number(portArgument),
    host: argument("host") ?? "127.0.0.1",
    token: argument("token") ?? secret("qstash"),
    currentSigningKey: argument("current-signing-key") ?? secret("sig"),
    nextSigningKey: argument("next-signing-key") ?? secret("sig"),
    timeScale: timeScale === undefined ? 1 : Number(timeScale),
  });
  process.stdout.write(
    `qstash stand-in: listening on ${qstash.url}\n` +
      `  QSTASH_URL=${qstash.url}\n` +
      `  QSTASH_TOKEN=${qstash.token}\n` +
      `  QSTASH_CURRENT_SIGNING_KEY=${qstash.currentSigningKey}\n` +
      `  QSTASH_NEXT_SIGNING_KEY=${qstash.nextSigningKey}\n`,
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      qstash.close().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`qstash stand-in: could not close cleanly: ${String(error)}\n`);
          process.exit(1);
        },
      );
    });
  }
}
