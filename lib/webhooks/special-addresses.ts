/**
 * The addresses a webhook is never sent to in production: the special-purpose ranges
 * of the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and updates)
 * and a few more, listed here and nowhere else. A receiver on the internet has a
 * global unicast address; everything below is a private network, this machine, a
 * link (the cloud metadata service), a translator or tunnel, documentation, a
 * benchmark, an anycast service or multicast.
 */
import { BlockList, isIP } from "node:net";
import { embeddedIPv4 } from "./embedded-ipv4.js";

type Subnet = readonly [network: string, prefix: number];

const SPECIAL_IPV4: readonly Subnet[] = [
  ["0.0.0.0", 8], // "this network"; 0.0.0.0 reaches this machine
  ["10.0.0.0", 8], // private (RFC 1918)
  ["100.64.0.0", 10], // shared address space, carrier-grade NAT (RFC 6598)
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local; the cloud metadata service is 169.254.169.254
  ["172.16.0.0", 12], // private (RFC 1918)
  ["192.0.0.0", 24], // IETF protocol assignments (NAT64 discovery, DS-Lite, PCP anycast...)
  ["192.0.2.0", 24], // documentation, TEST-NET-1 (RFC 5737)
  ["192.31.196.0", 24], // AS112-v4 anycast DNS sink (RFC 7535), never a receiver
  ["192.52.193.0", 24], // AMT relay anycast (RFC 7450), never a receiver
  ["192.88.99.0", 24], // 6to4 relay anycast, deprecated (RFC 7526)
  ["192.168.0.0", 16], // private (RFC 1918)
  ["192.175.48.0", 24], // AS112 direct delegation anycast DNS sink (RFC 7534), never a receiver
  ["198.18.0.0", 15], // benchmarking (RFC 2544)
  ["198.51.100.0", 24], // documentation, TEST-NET-2 (RFC 5737)
  ["203.0.113.0", 24], // documentation, TEST-NET-3 (RFC 5737)
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved (RFC 1112)
  ["255.255.255.255", 32], // limited broadcast (inside 240/4; listed as the registry lists it)
];

/**
 * Only global unicast (2000::/3) is allowed at all; the special ranges outside it are
 * listed too, so that this table alone says what is refused and why.
 */
const GLOBAL_UNICAST_IPV6: Subnet = ["2000::", 3];

const SPECIAL_IPV6: readonly Subnet[] = [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["::", 96], // IPv4-compatible, deprecated (RFC 4291): an IPv4 host named as IPv6
  ["::ffff:0:0", 96], // IPv4-mapped: an IPv4 host named as IPv6
  ["64:ff9b::", 96], // NAT64 well-known prefix (RFC 6052): reaches the IPv4 host it embeds
  ["64:ff9b:1::", 48], // NAT64 local-use prefix (RFC 8215): the same, through our own network's translator
  ["100::", 64], // discard-only (RFC 6666)
  ["2001::", 23], // IETF protocol assignments: Teredo 2001::/32, benchmarking 2001:2::/48, ORCHID 2001:10::/28 and 2001:20::/28, anycast services
  ["2001:db8::", 32], // documentation (RFC 3849)
  ["2002::", 16], // 6to4 (RFC 3056): reaches the IPv4 host it embeds, through a relay
  ["2620:4f:8000::", 48], // AS112 direct delegation anycast DNS sink (RFC 7534), like 192.175.48/24
  ["3fff::", 20], // documentation (RFC 9637)
  ["5f00::", 16], // SRv6 segment identifiers (RFC 9602)
  ["fc00::", 7], // unique local, private (RFC 4193); AWS's metadata service is fd00:ec2::254
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local, deprecated (RFC 3879)
  ["ff00::", 8], // multicast
];

// One list per family, and each address checked only against its own family's list:
// a BlockList matches an IPv4 address against its IPv6 rules too (as IPv4-mapped, so
// ::ffff:0:0/96 would match every IPv4 address) and an IPv4-mapped IPv6 address against
// its IPv4 rules.
const FORBIDDEN_V4 = blockListOf(SPECIAL_IPV4, "ipv4");
const FORBIDDEN_V6 = blockListOf(SPECIAL_IPV6, "ipv6");
const ALLOWED_V6 = blockListOf([GLOBAL_UNICAST_IPV6], "ipv6");

/** True for an address a webhook must never be sent to in production. */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return FORBIDDEN_V4.check(address, "ipv4");
  // A zone (fe80::1%eth0) names a link, and a link is not the internet.
  if (family !== 6 || address.includes("%")) return true;
  // The transition ranges (IPv4-mapped, NAT64, 6to4, Teredo) are refused outright by
  // SPECIAL_IPV6 whatever they embed: a receiver has a native address of its own, and
  // which IPv4 host they reach depends on translators and relays (the local-use NAT64
  // prefix's layout is even the operator's choice). What they embed is checked as
  // well, so that refusing one that reaches a private IPv4 network never rests on that
  // table alone.
  if (embeddedIPv4(address).some((embedded) => FORBIDDEN_V4.check(embedded, "ipv4"))) return true;
  return !ALLOWED_V6.check(address, "ipv6") || FORBIDDEN_V6.check(address, "ipv6");
}

function blockListOf(subnets: readonly Subnet[], family: "ipv4" | "ipv6"): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of subnets) list.addSubnet(network, prefix, family);
  return list;
}
