/**
 * `Idempotency-Key` for write routes that create work: POST
 * /api/imports, and the reconcile and sync routes when they are built.
 *
 * - A key is scoped to the API token that sent it (stored as its SHA-256, never the
 *   token) and to the route (`scope`), and lives 24 hours.
 * - The claim is a row in `idempotency_keys`: `insert … on conflict do nothing`. The
 *   request whose insert lands does the work; its response (status, headers, body)
 *   is stored on the row and every later request with that key gets it back, with
 *   `Idempotent-Replayed: true`, instead of starting the work again.
 * - The same key with a different request (another fingerprint) is a 409 `conflict`.
 * - A request that arrives while the first is still working waits for its response
 *   (a few seconds, polling), then gets it; if the first is still not done, a 409 with
 *   `Retry-After`.
 * - A request that fails (throws: a 4xx or 5xx problem) releases its claim: it
 *   started no work that a retry would repeat, so the client may correct it and send
 *   it again under the same key. Only responses the handler returned are stored.
 * - A claim whose request died (no response after `lockTimeoutMs`) is taken over by
 *   the next request with that key; the lock id keeps the dead one from writing later.
 * - Expired rows are removed lazily, by the requests that come by: the key's own row,
 *   and a bounded sweep of others.
 */
import { createHash, randomUUID } from "node:crypto";
import { type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { bearerToken } from "../auth/bearer.js";
import { type Database, queryRows } from "../db/client.js";
import { AppError } from "../errors.js";
import { logger } from "../log/index.js";

export const IDEMPOTENCY_HEADER = "idempotency-key";
export const REPLAYED_HEADER = "idempotent-replayed";
/** How long a key is remembered. */
export const IDEMPOTENCY_TTL_S = 24 * 60 * 60;
const MAX_KEY_LENGTH = 255;

/** The header's value: printable ASCII without spaces (surrounding whitespace aside). */
export const IdempotencyKey = z
  .string()
  .trim()
  .min(1)
  .max(MAX_KEY_LENGTH)
  .regex(/^[\x21-\x7e]+$/)
  .describe("The same key from the same API token within 24 hours answers the first response instead of starting the work again.");
/** Expired rows removed per request, at most (the rest go with later requests). */
const SWEEP_LIMIT = 100;
/** Headers of the first response that a replay repeats (the correlation id is the new request's). */
const STORED_HEADERS = ["content-type", "location", "cache-control"];

const log = logger("idempotency");

export interface IdempotencyOptions {
  db: Database;
  request: Request;
  /** The route, e.g. "POST /api/imports": the same key on two routes is two keys. */
  scope: string;
  /** The request's canonical form (see fingerprint()); a reuse of the key must match it. */
  fingerprint: string;
  /** A claim with no response after this long belongs to a request that died (default 5 min). */
  lockTimeoutMs?: number;
  /** How long a concurrent request waits for the first one's response (default 10 s). */
  waitMs?: number;
}

type KeyRow = {
  request_hash: string;
  lock_id: string;
  response_status: number | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
  stale: boolean;
};

/** The header's key, or null without one; a 400 naming the header when it is malformed. */
export function idempotencyKeyOf(request: Request): string | null {
  const raw = request.headers.get(IDEMPOTENCY_HEADER);
  if (raw === null) return null;
  const key = IdempotencyKey.safeParse(raw);
  if (!key.success) {
    const message = `must be 1 to ${MAX_KEY_LENGTH} printable ASCII characters without spaces`;
    throw new AppError("validation_failed", `Idempotency-Key ${message}.`, {
      fields: [{ field: "Idempotency-Key", location: "headers", message }],
    });
  }
  return key.data;
}

/**
 * SHA-256 of `value` as canonical JSON (object keys sorted), so that two requests
 * that mean the same (key order, defaults filled in by validation) match.
 */
export function fingerprint(value: unknown): string {
  return sha256(canonicalJson(value));
}

/** Runs `work` once per key (see the top of this file); without an Idempotency-Key header, just runs it. */
export async function withIdempotency(options: IdempotencyOptions, work: () => Promise<Response>): Promise<Response> {
  const key = idempotencyKeyOf(options.request);
  if (key === null) return work();
  const token = bearerToken(options.request.headers.get("authorization"));
  // Routes that use this are API routes: the token was checked before we got here.
  if (token === null) throw new AppError("unauthorized", "Missing or invalid bearer token.");
  const { db, scope } = options;
  const tokenHash = sha256(token);
  const lockTimeoutMs = options.lockTimeoutMs ?? 5 * 60_000;
  const waitUntil = Date.now() + (options.waitMs ?? 10_000);
  const where = sql`token_hash = ${tokenHash} and scope = ${scope} and key = ${key}`;

  await removeExpired(db, where);

  const lockId = randomUUID();
  const claim = async () =>
    (
      await queryRows(
        db,
        sql`insert into idempotency_keys (token_hash, scope, key, request_hash, lock_id)
            values (${tokenHash}, ${scope}, ${key}, ${options.fingerprint}, ${lockId})
            on conflict do nothing returning lock_id`,
      )
    ).length === 1;
  let owned = await claim();
  for (let delay = 50; !owned; delay = Math.min(delay * 2, 500)) {
    const [row] = await queryRows<KeyRow>(
      db,
      sql`select request_hash, lock_id, response_status, response_headers, response_body,
                 locked_at < now() - ${lockTimeoutMs / 1000}::float8 * interval '1 second' as stale
          from idempotency_keys where ${where}`,
    );
    if (!row) {
      // Released by a request that failed (or expired) since our insert: claim it again.
      owned = await claim();
      continue;
    }
    if (row.request_hash !== options.fingerprint) {
      throw new AppError(
        "conflict",
        "This Idempotency-Key was already used with a different request; use a new key for a new request.",
        { fields: [{ field: "Idempotency-Key", location: "headers", message: "reused with a different request" }] },
      );
    }
    if (row.response_status !== null) return replay(row);
    if (row.stale) {
      // The request holding it died before answering: take the claim over.
      const taken = await queryRows(
        db,
        sql`update idempotency_keys set lock_id = ${lockId}, locked_at = now()
            where ${where} and lock_id = ${row.lock_id} and response_status is null returning lock_id`,
      );
      owned = taken.length === 1;
      if (owned) log.warn("took over an abandoned idempotency claim", { scope });
      continue;
    }
    if (Date.now() + delay > waitUntil) {
      throw new AppError("conflict", "A request with this Idempotency-Key is still in progress; retry shortly.", {
        headers: { "retry-after": "1" },
      });
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }

  let response: Response;
  try {
    response = await work();
  } catch (error) {
    await queryRows(db, sql`delete from idempotency_keys where ${where} and lock_id = ${lockId} and response_status is null`);
    throw error;
  }
  const body = await response.text();
  const headers: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const value = response.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  const stored = await queryRows(
    db,
    sql`update idempotency_keys set response_status = ${response.status}, response_headers = ${JSON.stringify(headers)}::jsonb,
               response_body = ${body}, completed_at = now()
        where ${where} and lock_id = ${lockId} returning lock_id`,
  );
  if (stored.length === 0) {
    // Taken over because we looked dead: the work ran twice, which this module exists to prevent.
    log.error("an idempotency claim was taken over while its request was still working", { scope });
  }
  return new Response(body, { status: response.status, headers: response.headers });
}

function replay(row: KeyRow): Response {
  return new Response(row.response_body ?? "", {
    status: row.response_status ?? 200,
    headers: { ...row.response_headers, [REPLAYED_HEADER]: "true" },
  });
}

/** This key's row if it expired (so it can be claimed afresh), and a bounded batch of other expired rows. */
async function removeExpired(db: Database, key: SQL): Promise<void> {
  const expired = sql`created_at < now() - ${IDEMPOTENCY_TTL_S}::float8 * interval '1 second'`;
  await queryRows(
    db,
    sql`delete from idempotency_keys where ${expired} and ((${key})
          or ctid in (select ctid from idempotency_keys where ${expired} limit ${SWEEP_LIMIT}))`,
  );
}

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([name, item]) => `${JSON.stringify(name)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}
