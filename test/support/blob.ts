/**
 * Test-only plumbing for the Blob suites.
 *
 * installBlobHostRedirect(): the SDK's get() only ever fetches
 * `https://<store>.<access>.blob.vercel-storage.com/<pathname>` (docs/local-services.md). To
 * run the production read path against the stand-in, this swaps undici's global
 * dispatcher (shared by every undici copy in the process, the SDK's included, through
 * Symbol.for("undici.globalDispatcher.1")) for an Agent that sends those hosts to the
 * stand-in's `/blobs/` route, and records what get() asked for. Never used outside
 * tests: it redirects every fetch of the process.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { MAX_KEY_BYTES } from "../../lib/storage/keys.js";

const SDK_ENTRY = fileURLToPath(new URL("../../node_modules/@vercel/blob/dist/index.cjs", import.meta.url));

interface DispatchOptions {
  origin?: string | URL;
  path: string;
  headers?: unknown;
}

interface UndiciAgent {
  dispatch(options: DispatchOptions, handler: unknown): boolean;
}

interface Undici {
  Agent: new () => UndiciAgent;
  getGlobalDispatcher(): unknown;
  setGlobalDispatcher(dispatcher: unknown): void;
}

export interface RedirectedRequest {
  /** What get() asked for, before the redirect. */
  url: string;
  authorization: string | null;
  range: string | null;
}

export function installBlobHostRedirect(target: string): { requests: RedirectedRequest[]; restore(): void } {
  // The SDK's own undici (6.x), resolved from the SDK's directory.
  const undici = createRequire(SDK_ENTRY)("undici") as Undici;
  const previous = undici.getGlobalDispatcher();
  const requests: RedirectedRequest[] = [];
  const targetOrigin = new URL(target).origin;

  class Redirect extends undici.Agent {
    override dispatch(options: DispatchOptions, handler: unknown): boolean {
      const origin = options.origin ? new URL(String(options.origin)) : null;
      if (origin?.hostname.endsWith(".blob.vercel-storage.com")) {
        requests.push({
          url: `${origin.origin}${options.path}`,
          authorization: headerValue(options.headers, "authorization"),
          range: headerValue(options.headers, "range"),
        });
        return super.dispatch({ ...options, origin: targetOrigin, path: `/blobs${options.path}` }, handler);
      }
      return super.dispatch(options, handler);
    }
  }
  undici.setGlobalDispatcher(new Redirect());
  return { requests, restore: () => undici.setGlobalDispatcher(previous) };
}

/** undici passes headers as a flat [name, value, …] array or as an object. */
function headerValue(headers: unknown, name: string): string | null {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
    }
    return null;
  }
  if (headers && typeof headers === "object") {
    for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return String(value);
  }
  return null;
}

/** Keys that must never reach the store, each with why. */
export const REFUSED_KEYS: Array<[reason: string, key: string]> = [
  ["empty", ""],
  ["climbs out with ..", "../etc/passwd"],
  [".. in the middle", "imports/../../secrets.csv"],
  [". segment", "imports/./a.csv"],
  ["absolute", "/etc/passwd"],
  ["drive letter", "C:/Windows/win.ini"],
  ["backslashes", "imports\\..\\a.csv"],
  ["empty segment", "imports//a.csv"],
  ["trailing slash (empty last segment)", "imports/a/"],
  ["NUL", "imports/a\u0000.csv"],
  ["newline", "imports/a\n.csv"],
  ["DEL", "imports/a\u007f.csv"],
  ["a C1 control", "imports/a\u0085.csv"],
  ["percent-encoded .. (a URL parser would climb)", "imports/%2e%2e/a.csv"],
  ["a query in the URL", "imports/a.csv?x=1"],
  ["a fragment in the URL", "imports/a.csv#x"],
  ["a lone surrogate", "imports/\ud800.csv"],
  ["over-long", `imports/${"a".repeat(MAX_KEY_BYTES)}`],
];

