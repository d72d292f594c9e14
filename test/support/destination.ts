/**
 * A tiny HTTP server that stands where QStash delivers: it records every request
 * (exact body bytes, headers, arrival time) and answers with whatever the test's
 * handler says, optionally after a delay, so tests can measure concurrency and gaps.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  method: string;
  /** Path and query exactly as requested. */
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  /** performance.now() when the request had fully arrived. */
  at: number;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering (a slow handler). */
  delayMs?: number;
}

export type DestinationHandler = (request: ReceivedRequest) => Reply | Promise<Reply>;

export interface Destination {
  url: string;
  requests: ReceivedRequest[];
  /** Requests being handled right now. */
  inFlight(): number;
  setHandler(handler: DestinationHandler): void;
  /** Resolves once `count` requests matching `filter` have arrived. */
  waitFor(count: number, filter?: (request: ReceivedRequest) => boolean, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startDestination(handler: DestinationHandler = () => ({})): Promise<Destination> {
  const requests: ReceivedRequest[] = [];
  let current = handler;
  let inFlight = 0;
  const waiters = new Set<() => void>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () => {
      inFlight += 1;
      const body = Buffer.concat(chunks);
      const received: ReceivedRequest = {
        method: req.method ?? "GET",
        path: req.url ?? "/",
        headers: req.headers,
        body,
        text: body.toString("utf8"),
        at: performance.now(),
      };
      requests.push(received);
      for (const wake of [...waiters]) wake();
      Promise.resolve()
        .then(() => current(received))
        .then(async (reply) => {
          if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
          res.writeHead(reply.status ?? 200, { "content-type": "text/plain", ...reply.headers });
          res.end(reply.body ?? "ok");
        })
        .catch((error: unknown) => {
          res.writeHead(599, { "content-type": "text/plain" });
          res.end(`destination handler failed: ${String(error)}`);
        })
        .finally(() => {
          inFlight -= 1;
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inFlight: () => inFlight,
    setHandler(next) {
      current = next;
    },
    waitFor(count, filter = () => true, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const matching = requests.filter(filter);
          if (matching.length < count) return false;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(matching);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`destination: ${requests.filter(filter).length} of ${count} requests after ${timeoutMs} ms`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
