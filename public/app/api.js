/**
 * Every call the dashboard makes to the API goes through here. The API token lives in
 * sessionStorage only (this tab, gone when it closes; never localStorage) and travels
 * in the Authorization header, never in a URL: downloads are fetched with the header
 * and saved from a Blob.
 */

const TOKEN_KEY = "dropflow.apiToken";

/** Fired on window when the API refuses the token (401): the page asks for it again. */
export const SIGNED_OUT_EVENT = "dropflow:signed-out";

export function savedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The header every authenticated call carries. */
export function authHeaders() {
  return { authorization: `Bearer ${savedToken() ?? ""}` };
}

/** An answer that was not 2xx: the API's problem code and message (README, "Every route"). */
export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/**
 * A JSON call. `body` is sent as JSON; `idempotencyKey` makes a start safe to repeat
 * (the API answers the first response again instead of starting twice).
 */
export async function api(path, { method = "GET", body, idempotencyKey } = {}) {
  const headers = { ...authHeaders() };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw problemOf(response, data);
  return data;
}

/** Fetches a download with the token in its header and hands it to the browser as a file. */
export async function download(path, fallbackName) {
  const response = await fetch(path, { headers: authHeaders() });
  if (!response.ok) throw problemOf(response, await response.json().catch(() => null));
  const blob = await response.blob();
  const name = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "")?.[1] ?? fallbackName;
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the file by then; the URL only holds the Blob in memory.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return { name, size: blob.size };
}

function problemOf(response, data) {
  if (response.status === 401) {
    forgetToken();
    window.dispatchEvent(new CustomEvent(SIGNED_OUT_EVENT, { detail: { reason: "refused" } }));
  }
  const error = data?.error;
  return new ApiError(response.status, error?.code ?? "http_error", error?.message ?? `The API answered ${response.status}.`, data);
}

/** A random UUID (v4) from getRandomValues, which also works where crypto.randomUUID does not (plain HTTP off localhost). */
export function newUuid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
