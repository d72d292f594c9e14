/**
 * The Blob stand-in's credentials, as @vercel/blob 2.8 makes and checks them
 * (measured against the SDK; docs/local-services.md):
 *
 * - read-write token: `vercel_blob_rw_<storeId>_<secret>`; the SDK takes the store id
 *   from the fourth `_` field;
 * - client token (generateClientTokenFromReadWriteToken / handleUpload):
 *   `vercel_blob_client_<storeId>_<base64(hex(HMAC-SHA256(rw token, P)) + "." + P)>`,
 *   with P = base64(JSON of the claims: pathname, validUntil (ms), and optionally
 *   allowedContentTypes, maximumSizeInBytes, addRandomSuffix, allowOverwrite,
 *   cacheControlMaxAge, ifMatch, onUploadCompleted: { callbackUrl, tokenPayload });
 * - upload-completed callback: header `x-vercel-signature`, hex HMAC-SHA256 keyed by
 *   the rw token over the body. handleUpload() checks it against
 *   JSON.stringify(JSON.parse(body)), so the body must be compact JSON whose key order
 *   survives a parse (no integer-like keys).
 */
import { createHmac, randomBytes } from "node:crypto";
import { constantTimeEqual } from "../../lib/auth/bearer.js";

export const CLIENT_TOKEN_PREFIX = "vercel_blob_client_";

/** An error the stand-in answers as Vercel Blob does: `{ error: { code, message } }`. */
export class BlobApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "BlobApiError";
  }
}

export interface ClientTokenClaims {
  pathname: string;
  validUntil: number;
  allowedContentTypes?: string[];
  maximumSizeInBytes?: number;
  addRandomSuffix?: boolean;
  allowOverwrite?: boolean;
  cacheControlMaxAge?: number;
  ifMatch?: string;
  onUploadCompleted?: { callbackUrl: string; tokenPayload?: string | null };
}

/** The store id of a read-write token, or an Error naming what is wrong with it. */
export function storeIdOf(readWriteToken: string): string {
  const [vercel, blob, rw, storeId, ...secret] = readWriteToken.split("_");
  if (vercel !== "vercel" || blob !== "blob" || rw !== "rw" || !storeId || secret.join("_") === "") {
    throw new Error("a Blob read-write token looks like vercel_blob_rw_<store id>_<secret>");
  }
  return storeId;
}

/** A fresh read-write token for a local store. Hex secret: the SDK splits tokens on `_`. */
export function newReadWriteToken(storeId = "local"): string {
  return `vercel_blob_rw_${storeId}_${randomBytes(24).toString("hex")}`;
}


export function hmacHex(key: string, message: string): string {
  return createHmac("sha256", key).update(message).digest("hex");
}

/**
 * Checks a client token's signature and expiry and returns its claims. A token that
 * is not ours (bad shape, other store, wrong signature) is 401; an expired one 403
 * with the message the SDK turns into BlobClientTokenExpiredError.
 */
export function verifyClientToken(token: string, readWriteToken: string, storeId: string, now = Date.now()): ClientTokenClaims {
  const forged = () => new BlobApiError(401, "forbidden", "Access denied: the client token is not valid for this store.");
  if (!token.startsWith(CLIENT_TOKEN_PREFIX)) throw forged();
  const rest = token.slice(CLIENT_TOKEN_PREFIX.length);
  const separator = rest.indexOf("_");
  if (separator <= 0 || rest.slice(0, separator) !== storeId) throw forged();
  const decoded = Buffer.from(rest.slice(separator + 1), "base64").toString("utf8");
  const dot = decoded.indexOf(".");
  if (dot <= 0) throw forged();
  const signature = decoded.slice(0, dot);
  const payload = decoded.slice(dot + 1);
  if (!constantTimeEqual(signature, hmacHex(readWriteToken, payload))) throw forged();

  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, "base64").toString("utf8"));
  } catch (error) {
    // Signed by the holder of the rw token but not JSON: still not a token we can honour.
    if (error instanceof SyntaxError) throw forged();
    throw error;
  }
  const parsed = checkClaims(claims);
  if (parsed === null) throw forged();
  if (parsed.validUntil < now) throw new BlobApiError(403, "forbidden", "Token expired");
  return parsed;
}

function checkClaims(value: unknown): ClientTokenClaims | null {
  if (typeof value !== "object" || value === null) return null;
  const claims = value as Record<string, unknown>;
  if (typeof claims.pathname !== "string" || typeof claims.validUntil !== "number") return null;
  if (claims.allowedContentTypes !== undefined) {
    if (!Array.isArray(claims.allowedContentTypes) || !claims.allowedContentTypes.every((t) => typeof t === "string")) {
      return null;
    }
  }
  for (const name of ["maximumSizeInBytes", "cacheControlMaxAge"] as const) {
    if (claims[name] !== undefined && typeof claims[name] !== "number") return null;
  }
  for (const name of ["addRandomSuffix", "allowOverwrite"] as const) {
    if (claims[name] !== undefined && typeof claims[name] !== "boolean") return null;
  }
  if (claims.ifMatch !== undefined && typeof claims.ifMatch !== "string") return null;
  const completed = claims.onUploadCompleted;
  if (completed !== undefined) {
    if (typeof completed !== "object" || completed === null) return null;
    const { callbackUrl, tokenPayload } = completed as Record<string, unknown>;
    if (typeof callbackUrl !== "string") return null;
    if (tokenPayload !== undefined && tokenPayload !== null && typeof tokenPayload !== "string") return null;
  }
  return claims as unknown as ClientTokenClaims;
}

/** Whether `contentType` is allowed by a token's list (exact, or `type/*`), parameters ignored. */
export function contentTypeAllowed(contentType: string, allowed: readonly string[] | undefined): boolean {
  if (!allowed || allowed.length === 0) return true;
  const base = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  const [type] = base.split("/");
  return allowed.some((entry) => {
    const wanted = (entry.split(";")[0] ?? "").trim().toLowerCase();
    return wanted === base || (type !== undefined && wanted === `${type}/*`);
  });
}

/** The upload-completed callback: its compact body and the signature handleUpload() checks. */
export function signedCallback(
  readWriteToken: string,
  blob: Record<string, string>,
  tokenPayload: string | null,
): { body: string; signature: string } {
  const body = JSON.stringify({ type: "blob.upload-completed", payload: { blob, tokenPayload } });
  return { body, signature: hmacHex(readWriteToken, body) };
}
