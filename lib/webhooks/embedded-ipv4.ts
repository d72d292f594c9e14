/**
 * The IPv4 addresses an IPv6 address carries by one of the IPv4/IPv6 transition
 * mechanisms. Such an address reaches the IPv4 host it embeds (through a translator
 * or a tunnel), so the IPv4 rules have to hold for what it embeds as well:
 * `64:ff9b::a9fe:a9fe` is 169.254.169.254 (the cloud metadata service) behind NAT64.
 */
import { isIP } from "node:net";

/** Where an IPv4 address sits in the 16 bytes of an IPv6 one. */
type Bytes = readonly [number, number, number, number];

const LAST_32_BITS: Bytes = [12, 13, 14, 15];

/**
 * The IPv4 addresses `address` embeds (dotted quads; none for an address of no
 * transition mechanism, or not IPv6):
 * - IPv4-mapped ::ffff:0:0/96 and IPv4-compatible ::/96: the last 32 bits;
 * - NAT64 well-known prefix 64:ff9b::/96 (RFC 6052): the last 32 bits;
 * - NAT64 local-use 64:ff9b:1::/48 (RFC 8215): the operator picks the prefix length
 *   (48, 56, 64 or 96 bits inside the /48), which the address does not tell, so each
 *   RFC 6052 layout's IPv4 is returned;
 * - 6to4 2002::/16 (RFC 3056): bits 16-47;
 * - Teredo 2001::/32 (RFC 4380): the server in bits 32-63, and the client in the last
 *   32 bits, inverted (XOR 0xffffffff).
 */
export function embeddedIPv4(address: string): string[] {
  if (isIP(address) !== 6) return [];
  const bytes = ipv6Bytes(address);
  const startsWith = (prefix: readonly number[]): boolean => prefix.every((byte, i) => bytes[i] === byte);
  const at = (positions: Bytes, invert = 0): string => positions.map((i) => (bytes[i] ?? 0) ^ invert).join(".");

  if (startsWith([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff])) return [at(LAST_32_BITS)];
  if (startsWith([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])) return [at(LAST_32_BITS)];
  if (startsWith([0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0])) return [at(LAST_32_BITS)];
  if (startsWith([0x00, 0x64, 0xff, 0x9b, 0x00, 0x01])) {
    // RFC 6052 section 2.2: bits 64-71 are always zero, so the IPv4 address skips byte 8.
    return [at([6, 7, 9, 10]), at([7, 9, 10, 11]), at([9, 10, 11, 12]), at(LAST_32_BITS)];
  }
  if (startsWith([0x20, 0x02])) return [at([2, 3, 4, 5])];
  if (startsWith([0x20, 0x01, 0x00, 0x00])) return [at([4, 5, 6, 7]), at(LAST_32_BITS, 0xff)];
  return [];
}

/** The 16 bytes of a valid IPv6 address (the caller checked it with isIP). */
function ipv6Bytes(address: string): number[] {
  const [head = "", tail] = address.split("::");
  const groupsOf = (part: string | undefined): number[] =>
    part ? part.split(":").flatMap((group) => (group.includes(".") ? dottedGroups(group) : [parseInt(group, 16)])) : [];
  const before = groupsOf(head);
  const after = groupsOf(tail);
  // "::" stands for as many zero groups as make eight.
  const groups = [...before, ...new Array<number>(8 - before.length - after.length).fill(0), ...after];
  return groups.flatMap((group) => [group >> 8, group & 0xff]);
}

/** The trailing dotted quad of `::ffff:1.2.3.4` as two 16-bit groups. */
function dottedGroups(quad: string): number[] {
  const [a = 0, b = 0, c = 0, d = 0] = quad.split(".").map(Number);
  return [(a << 8) | b, (c << 8) | d];
}
