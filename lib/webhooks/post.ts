/**
 * One POST over node:http(s), answered by its status alone. fetch() cannot be told
 * how to resolve a host, and the webhook's connection must go to an address that was
 * checked (checked-lookup.ts), so the request is made here with the `lookup` given.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";

export interface PostRequest {
  url: URL;
  headers: Record<string, string>;
  body: string;
  lookup: LookupFunction;
  /** Aborts the whole exchange: resolving, connecting, TLS, sending, the answer's headers. */
  signal: AbortSignal;
}

/** Resolves to the answer's status; rejects with whatever failed the request first. */
export function postForStatus(request: PostRequest): Promise<number> {
  const send = request.url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = send(
      request.url,
      {
        method: "POST",
        headers: { ...request.headers, "content-length": String(Buffer.byteLength(request.body)) },
        lookup: request.lookup,
        // A connection of its own: one kept alive by a shared agent would skip the lookup.
        agent: false,
        signal: request.signal,
      },
      (response) => {
        // Only the status matters; the body is not read (a receiver may send anything).
        response.destroy();
        resolve(response.statusCode ?? 0);
      },
    );
    // `on`, not `once`: an abort after the answer may still report an error, which
    // must not go unhandled (the promise has settled and ignores it).
    outgoing.on("error", reject);
    outgoing.end(request.body);
  });
}
