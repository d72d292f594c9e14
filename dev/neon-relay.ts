/**
 * A WebSocket-to-TCP relay that lets the real `@neondatabase/serverless` Pool talk to a
 * plain Postgres, the way Neon's own proxy does in production. The driver opens
 * `ws://<wsProxy>?address=<host>:<port>` and then speaks the raw Postgres wire protocol
 * in binary frames, so the relay only moves bytes. Used by tests and by `npm run dev`
 * with DROPFLOW_PG_DRIVER=neon and DROPFLOW_NEON_WSPROXY=<the printed wsProxy>.
 *
 * It refuses every destination that `allow` rejects (by default anything but loopback):
 * it must never become an open proxy.
 *
 *   tsx dev/neon-relay.ts [--port 4444] [--host 127.0.0.1]
 */
import { createServer, type IncomingMessage } from "node:http";
import net from "node:net";
import path from "node:path";
import type { Duplex } from "node:stream";
import { pathToFileURL } from "node:url";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import { logger } from "../lib/log/index.js";
import { listenOn } from "./servers/listen.js";

const log = logger("neon-relay");

export interface NeonRelayOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to listen on; loopback unless told otherwise. */
  host?: string;
  /** Which Postgres destinations may be reached. Default: loopback hosts only. */
  allow?: (host: string, port: number) => boolean;
}

export interface NeonRelay {
  port: number;
  /** The value for `neonConfig.wsProxy` / DROPFLOW_NEON_WSPROXY (no scheme: the driver adds it). */
  wsProxy: string;
  /** Open relayed connections right now. */
  connections(): number;
  /**
   * Resolves once no connection is open (rejects after `timeoutMs`). A Pool's `end()`
   * resolves before its sockets have closed; wait for this before dropping its database.
   */
  idle(timeoutMs?: number): Promise<void>;
  /** Stops listening and cuts every open connection. */
  close(): Promise<void>;
}

// Stop reading from one side while the other still has this much unsent.
const HIGH_WATER_MARK = 1 << 20;

export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  const family = net.isIP(host);
  if (family === 4) return host.startsWith("127.");
  if (family === 6) return host === "::1" || /^::ffff:127\./i.test(host);
  return false;
}

/** `address=host:port` from the upgrade request; `[v6]:port` allowed. */
export function parseAddress(requestUrl: string | undefined): { host: string; port: number } | null {
  const address = new URL(requestUrl ?? "/", "http://relay.invalid").searchParams.get("address");
  if (!address) return null;
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  if (!match) return null;
  const host = match[1] ?? match[2] ?? "";
  const port = Number(match[3]);
  if (host === "" || port < 1 || port > 65_535) return null;
  return { host, port };
}

export async function startNeonRelay(options: NeonRelayOptions = {}): Promise<NeonRelay> {
  const allow = options.allow ?? ((host) => isLoopbackHost(host));
  const listenHost = options.host ?? "127.0.0.1";
  const open = new Set<{ ws: WebSocket; tcp: net.Socket }>();
  const idleWaiters = new Set<() => void>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

  const server = createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" });
    res.end("This is a WebSocket relay for the Neon serverless driver.\n");
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    log.debug("bad request on the relay", { err: error });
    socket.destroy();
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", (error) => log.debug("relay client socket failed before upgrade", { err: error }));
    const target = parseAddress(req.url);
    if (!target) {
      refuse(socket, 400, "Bad Request", "expected ?address=host:port");
      return;
    }
    if (!allow(target.host, target.port)) {
      log.warn("refused a relay destination", { destination: `${target.host}:${target.port}` });
      refuse(socket, 403, "Forbidden", `destination ${target.host}:${target.port} is not allowed`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const pair = { ws, tcp: relay(ws, target.host, target.port) };
      open.add(pair);
      ws.once("close", () => {
        open.delete(pair);
        if (open.size === 0) for (const wake of idleWaiters) wake();
      });
    });
  });

  await listenOn(server, options.port ?? 0, listenHost);
  server.on("error", (error) => log.error("neon relay server failed", { err: error }));
  const port = (server.address() as net.AddressInfo).port;
  const hostForClients = listenHost === "0.0.0.0" || listenHost === "::" ? "127.0.0.1" : listenHost;
  const wsProxy = `${net.isIPv6(hostForClients) ? `[${hostForClients}]` : hostForClients}:${port}/v2`;

  let closing: Promise<void> | null = null;
  return {
    port,
    wsProxy,
    connections: () => open.size,
    idle: (timeoutMs = 5_000) =>
      new Promise<void>((resolve, reject) => {
        if (open.size === 0) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          idleWaiters.delete(wake);
          reject(new Error(`neon relay: ${open.size} connection(s) still open after ${timeoutMs} ms`));
        }, timeoutMs);
        const wake = () => {
          clearTimeout(timer);
          idleWaiters.delete(wake);
          resolve();
        };
        idleWaiters.add(wake);
      }),
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const { ws, tcp } of open) {
          tcp.destroy();
          ws.terminate();
        }
        open.clear();
        wss.close();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function refuse(socket: Duplex, status: number, statusText: string, message: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
  );
}

/** Pipes one WebSocket to a new TCP connection to host:port, both ways, until either closes. */
function relay(ws: WebSocket, host: string, port: number): net.Socket {
  const tcp = net.connect({ host, port });
  tcp.setNoDelay(true);
  // The driver sends its startup message right away, before the TCP connect completes.
  let pending: Buffer[] | null = [];

  ws.on("message", (data: RawData) => {
    const chunk = toBuffer(data);
    if (pending) {
      pending.push(chunk);
      return;
    }
    if (!tcp.write(chunk)) ws.pause();
  });
  tcp.on("drain", () => ws.resume());

  tcp.once("connect", () => {
    const queued = pending ?? [];
    pending = null;
    for (const chunk of queued) tcp.write(chunk);
  });

  tcp.on("data", (chunk: Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(chunk, { binary: true }, (error) => {
      if (error) {
        log.debug("relay could not send to the WebSocket", { err: error });
        return;
      }
      if (tcp.isPaused() && ws.bufferedAmount < HIGH_WATER_MARK) tcp.resume();
    });
    if (ws.bufferedAmount >= HIGH_WATER_MARK) tcp.pause();
  });

  tcp.on("error", (error: NodeJS.ErrnoException) => {
    const destination = `${host}:${port}`;
    if (error.code === "ECONNRESET" || error.code === "EPIPE") {
      log.debug("relayed Postgres connection reset", { destination, err: error });
    } else {
      log.warn("relayed Postgres connection failed", { destination, err: error });
    }
  });
  // 'close' follows 'error' too, so closing the WebSocket happens in one place.
  tcp.once("close", (hadError) => {
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
      ws.close(hadError ? 1011 : 1000, hadError ? "upstream connection failed" : "upstream closed");
    }
  });

  ws.on("error", (error) => log.debug("relay WebSocket failed", { err: error }));
  ws.once("close", () => {
    pending = null;
    // Let queued bytes (the client's Terminate message) reach Postgres before FIN.
    if (tcp.connecting || tcp.destroyed) tcp.destroy();
    else tcp.end();
  });
  return tcp;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : process.argv[index + 1];
}

const invokedAsScript =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;

if (invokedAsScript) {
  const portArgument = argument("port");
  const relayServer = await startNeonRelay({
    port: portArgument === undefined ? 0 : Number(portArgument),
    host: argument("host") ?? "127.0.0.1",
  });
  process.stdout.write(
    `neon-relay: listening; wsProxy ${relayServer.wsProxy}\n` +
      `  DROPFLOW_PG_DRIVER=neon DROPFLOW_NEON_WSPROXY=${relayServer.wsProxy} DATABASE_URL=postgres://…@127.0.0.1:5432/…\n`,
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      relayServer.close().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`neon-relay: could not close cleanly: ${String(error)}\n`);
          process.exit(1);
        },
      );
    });
  }
}
