/**
 * Which `callback_url` a webhook may go to. A webhook is a request our servers make
 * to an address a caller chose, so without these rules it would be a way to reach
 * what only our servers can reach (SSRF): the cloud metadata service, private
 * networks, localhost.
 *
 * - production: https only, no credentials in the URL, and every address the host
 *   resolves to (the host itself when it is an IP address) must be public: not in any
 *   range of special-addresses.ts, which lists every special-purpose range of the IANA
 *   registries (private, loopback, link-local and metadata, CGNAT, documentation,
 *   benchmarking, anycast services, multicast, reserved) and refuses all IPv6 outside
 *   global unicast 2000::/3 and every IPv4/IPv6 transition address (IPv4-mapped and
 *   -compatible, NAT64, 6to4, Teredo), whatever IPv4 address it embeds. Checked when
 *   the import is created (a 400 naming `callback_url`) and again at each delivery
 *   attempt, where the connection goes only to the addresses that check resolved
 *   (checked-lookup.ts), so DNS cannot swap a private address in after the check.
 * - outside production: https anywhere, or http(s) to a loopback host, so a receiver on
 *   the developer's machine works. No resolution, and no address policy at delivery.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { AppError } from "../errors.js";
import { isForbiddenAddress } from "./special-addresses.js";

export type ResolveHost = (hostname: string) => Promise<string[]>;

export interface CallbackUrlPolicy {
  production: boolean;
  /** Resolves a host name to its addresses (tests pass their own). */
  resolve?: ResolveHost;
}

const MAX_URL_LENGTH = 2048;

export const resolveAll: ResolveHost = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

function isLoopbackHost(hostname: string): boolean {
  const host = bareHostname(hostname);
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  // ::1, and 127/8 written as IPv4-mapped IPv6 (the URL parser turns ::ffff:127.0.0.1 into ::ffff:7f00:1).
  return host === "::1" || /^::ffff:(127\.|7f[0-9a-f]{2}:)/i.test(host);
}

/** `[::1]` -> `::1`: URL keeps the brackets of an IPv6 host. */
export function bareHostname(hostname: string): string {
  return hostname.replace(/^\[|\]$/g, "").toLowerCase();
}

function refuse(message: string): AppError {
  return new AppError("validation_failed", `callback_url ${message}.`, {
    fields: [{ field: "callback_url", location: "body", message }],
  });
}

/**
 * Checks a callback URL against the policy above; returns it normalised, or throws
 * a 400 naming `callback_url`.
 */
export async function checkCallbackUrl(raw: string, policy: CallbackUrlPolicy): Promise<string> {
  const url = parseCallbackUrl(raw, policy.production);
  if (policy.production) await publicAddressesOf(url.hostname, policy.resolve ?? resolveAll);
  return url.href;
}

/** The part of the policy that needs no resolution: the URL's form, scheme and host name. */
export function parseCallbackUrl(raw: string, production: boolean): URL {
  if (raw.length > MAX_URL_LENGTH) throw refuse(`must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch (error) {
    if (error instanceof TypeError) throw refuse("must be an absolute URL");
    throw error;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw refuse("must be an https URL");
  if (url.username || url.password) throw refuse("must not carry credentials");
  if (production) {
    if (url.protocol !== "https:") throw refuse("must be an https URL");
  } else if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    throw refuse("must be https (plain http is accepted only for a loopback host in development)");
  }
  return url;
}

/**
 * Production: the addresses of a host (the host itself when it is an IP address), every
 * one of them public. Throws a 400 naming `callback_url` otherwise, also when the host
 * does not resolve.
 */
export async function publicAddressesOf(hostname: string, resolve: ResolveHost = resolveAll): Promise<string[]> {
  const host = bareHostname(hostname);
  if (host === "localhost" || host.endsWith(".localhost")) throw refuse("must not point to this machine");
  let addresses: string[];
  if (isIP(host) !== 0) {
    addresses = [host];
  } else {
    try {
      addresses = await resolve(host);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A DNS server that could not answer now may answer later: worth a retry (a 503 at
      // creation; the queue's backoff at delivery), unlike a name that does not exist.
      if (code === "EAI_AGAIN") {
        throw new AppError("service_unavailable", `callback_url's host could not be resolved just now (${code}); try again.`, {
          cause: error,
        });
      }
      throw refuse(`has a host that does not resolve (${typeof code === "string" ? code : "lookup failed"})`);
    }
  }
  if (addresses.length === 0) throw refuse("has a host that does not resolve");
  if (addresses.some(isForbiddenAddress)) {
    throw refuse(
      "must point to a public address (private, loopback, link-local, metadata, documentation, reserved and IPv4/IPv6 transition addresses are refused)",
    );
  }
  return addresses;
}
