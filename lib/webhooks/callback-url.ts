/**
 * Which `callback_url` a webhook may go to. A webhook is a request our servers make
 * to an address a caller chose, so without these rules it would be a way to reach
 * what only our servers can reach (SSRF): the cloud metadata service, private
 * networks, localhost.
 *
 * - production: https only, and every address the host resolves to must be public:
 *   loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local and metadata
 *   (169.254/16, fe80::/10), CGNAT, multicast, reserved and unspecified ranges are
 *   refused, also inside IPv4-mapped IPv6. Checked when the import is created (a 400
 *   naming `callback_url`) and again before each delivery (DNS may have changed).
 * - outside production: https anywhere, or http(s) to a loopback host, so a receiver on
 *   the developer's machine works. No resolution.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { AppError } from "../errors.js";

export type ResolveHost = (hostname: string) => Promise<string[]>;

export interface CallbackUrlPolicy {
  production: boolean;
  /** Resolves a host name to its addresses (tests pass their own). */
  resolve?: ResolveHost;
}

const MAX_URL_LENGTH = 2048;

// Two lists: one BlockList checks IPv4 addresses against its IPv6 rules too (as
// IPv4-mapped), and the IPv6 list below refuses the whole mapped range.
const FORBIDDEN_V4 = new BlockList();
const FORBIDDEN_V6 = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8], // "this network", unspecified
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata (169.254.169.254)
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15], // benchmarking
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const) {
  FORBIDDEN_V4.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  // The whole IPv4-compatible and IPv4-mapped ranges (::a.b.c.d, ::ffff:a.b.c.d, with
  // :: and ::1 among them): a callback has no reason to name an IPv4 host that way, and
  // refusing them all saves decoding which IPv4 address each one reaches.
  ["::", 96],
  ["::ffff:0:0", 96],
  ["fc00::", 7], // unique local (fd00:ec2::254 is AWS's metadata service)
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
] as const) {
  FORBIDDEN_V6.addSubnet(network, prefix, "ipv6");
}

const resolveAll: ResolveHost = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

/** True for an address a webhook must never be sent to in production. */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  if (family === 6) return FORBIDDEN_V6.check(address, "ipv6");
  return FORBIDDEN_V4.check(address, "ipv4");
}

function isLoopbackHost(hostname: string): boolean {
  const host = bare(hostname);
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  // ::1, and 127/8 written as IPv4-mapped IPv6 (the URL parser turns ::ffff:127.0.0.1 into ::ffff:7f00:1).
  return host === "::1" || /^::ffff:(127\.|7f[0-9a-f]{2}:)/i.test(host);
}

/** `[::1]` -> `::1`: URL keeps the brackets of an IPv6 host. */
function bare(hostname: string): string {
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
  const loopback = isLoopbackHost(url.hostname);
  if (!policy.production) {
    if (url.protocol === "http:" && !loopback) {
      throw refuse("must be https (plain http is accepted only for a loopback host in development)");
    }
    return url.href;
  }
  if (url.protocol !== "https:") throw refuse("must be an https URL");
  await assertPublicHost(url.hostname, policy.resolve ?? resolveAll);
  return url.href;
}

/** Production: every address of the host is public. Throws a 400 naming `callback_url` otherwise. */
export async function assertPublicHost(hostname: string, resolve: ResolveHost = resolveAll): Promise<void> {
  const host = bare(hostname);
  if (host === "localhost" || host.endsWith(".localhost")) throw refuse("must not point to this machine");
  let addresses: string[];
  if (isIP(host) !== 0) {
    addresses = [host];
  } else {
    try {
      addresses = await resolve(host);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw refuse(`has a host that does not resolve (${typeof code === "string" ? code : "lookup failed"})`);
    }
  }
  if (addresses.length === 0) throw refuse("has a host that does not resolve");
  if (addresses.some(isForbiddenAddress)) {
    throw refuse("must point to a public address (private, loopback, link-local and metadata addresses are refused)");
  }
}
