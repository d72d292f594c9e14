/**
 * The `lookup` a webhook's connection resolves its host with. Checking a host's
 * addresses and then letting the HTTP client resolve it again leaves a window in
 * which DNS can answer differently (rebinding: public for the check, 169.254.169.254
 * for the connection). Here the host is resolved once per connection, in production
 * every address is checked (callback-url.ts), and the connection is handed only those
 * addresses: what was checked is what is connected to.
 */
import type { LookupAddress, LookupOptions } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { publicAddressesOf, resolveAll, type ResolveHost } from "./callback-url.js";

export interface LookupPolicy {
  /** Refuse (with the 400 naming `callback_url`) a host with any non-public address. */
  production: boolean;
  resolve?: ResolveHost;
}

/**
 * A `lookup` for node:net (http.request's option). A refused host fails the
 * connection with the AppError("validation_failed") of publicAddressesOf, before any
 * socket is opened.
 */
export function checkedLookup(policy: LookupPolicy): LookupFunction {
  const resolve = policy.resolve ?? resolveAll;
  return (hostname, options, callback) => {
    const addresses = policy.production ? publicAddressesOf(hostname, resolve) : resolve(hostname);
    void addresses.then(
      (found) => {
        const usable = ofFamily(found, options.family);
        if (usable.length === 0) {
          callback(Object.assign(new Error(`${hostname} has no address of the family asked for`), { code: "ENOTFOUND" }), []);
        } else if (options.all) {
          callback(null, usable);
        } else {
          const [first] = usable as [LookupAddress];
          callback(null, first.address, first.family);
        }
      },
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), []),
    );
  };
}

function ofFamily(addresses: string[], family: LookupOptions["family"]): LookupAddress[] {
  const wanted = family === "IPv4" ? 4 : family === "IPv6" ? 6 : (family ?? 0);
  return addresses
    .map((address) => ({ address, family: isIP(address) }))
    .filter((entry) => entry.family !== 0 && (wanted === 0 || entry.family === wanted));
}
