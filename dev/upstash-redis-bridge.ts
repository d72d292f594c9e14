/**
 * A local stand-in for Upstash Redis: an HTTP server that speaks the Upstash REST
 * protocol (docs/local-services.md) in front of a real redis-server, so the real
 * `@upstash/redis` client runs unchanged in tests, benchmarks and local services mode.
 *
 *   POST /            one command as a JSON array:     {"result": …} | 400 {"error": …}
 *   POST /pipeline    an array of commands, in order:  [{"result": …} | {"error": …}, …]
 *   POST /multi-exec  the same, atomically (MULTI/EXEC on a connection of its own)
 *
 * `Authorization: Bearer <token>` is required (compared in constant time). With
 * `Upstash-Encoding: base64` (the SDK's default) every string in a result is base64 at
 * any depth: the SDK decodes every string it gets, so one left plain is silently
 * corrupted whenever it happens to be valid base64. Numbers stay numbers, nil stays
 * null, and results stay flat RESP2 arrays (the SDK turns any object into null).
 *
 * Commands that would change the state of a shared connection (SELECT, MULTI, WATCH,
 * SUBSCRIBE, CLIENT, …) or block it (BLPOP, …) are refused: Upstash has no use for
 * them over REST and here they would leak into other requests.
 *
 *   tsx dev/upstash-redis-bridge.ts --redis-port 6379 [--redis-host 127.0.0.1] [--port 0] [--token …]
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { bearerToken, constantTimeEqual } from "../lib/auth/bearer.js";
import { logger } from "../lib/log/index.js";
import { RespError, RespPool, type RespValue } from "./resp.js";
import { listenOn } from "./servers/listen.js";

const log = logger("upstash-bridge");

export interface UpstashBridgeOptions {
  redisHost: string;
  redisPort: number;
  /** The bearer token clients must present (UPSTASH_REDIS_REST_TOKEN). */
  token: string;
  /** 0 (the default): any free port. */
  port?: number;
  /** Loopback unless told otherwise. */
  host?: string;
  /** Logical database every connection SELECTs (default 0). */
  db?: number;
  /** Shared pipelined connections to redis (default 4). */
  connections?: number;
}

export interface UpstashBridge {
  /** UPSTASH_REDIS_REST_URL: `http://host:port`, no trailing slash. */
  url: string;
  port: number;
  close(): Promise<void>;
}

// Upstash's documented maximum request size.
const MAX_BODY_BYTES = 10 * 1024 * 1024;

const REFUSED_COMMANDS = new Set([
  "select",
  "swapdb",
  "multi",
  "exec",
  "discard",
  "watch",
  "unwatch",
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
  "monitor",
  "client",
  "hello",
  "auth",
  "reset",
  "quit",
  "readonly",
  "readwrite",
  "sync",
  "psync",
  "replicaof",
  "slaveof",
  "shutdown",
  "debug",
  "wait",
  "waitaof",
  "blpop",
  "brpop",
  "brpoplpush",
  "blmove",
  "blmpop",
  "bzpopmin",
  "bzpopmax",
  "bzmpop",
]);

type Command = string[];

class BadRequest extends Error {}

/** Every argument as Redis sees it: the SDK sends numbers and booleans as JSON values. */
function toCommand(value: unknown): Command {
  if (!Array.isArray(value) || value.length === 0) {
    throw new BadRequest("ERR a command is a non-empty JSON array");
  }
  return value.map((arg: unknown) => {
    if (typeof arg === "string") return arg;
    if (typeof arg === "number" || typeof arg === "boolean") return String(arg);
    if (arg !== null && typeof arg === "object") return JSON.stringify(arg);
    throw new BadRequest(`ERR unsupported argument ${JSON.stringify(arg)}`);
  });
}

function toCommands(value: unknown): Command[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new BadRequest("ERR expected a non-empty JSON array of commands");
  }
  return value.map(toCommand);
}

function refusal(command: Command): string | null {
  const name = (command[0] ?? "").toLowerCase();
  const blockingRead = (name === "xread" || name === "xreadgroup") && command.some((arg) => /^block$/i.test(arg));
  return REFUSED_COMMANDS.has(name) || blockingRead ? `ERR command '${name}' is not supported over REST` : null;
}

/** A reply as the SDK expects it: strings base64 (when asked) at any depth, flat arrays. */
function toJson(value: RespValue, base64: boolean): unknown {
  if (value === null || typeof value === "number") return value;
  if (typeof value === "string") return base64 ? Buffer.from(value, "utf8").toString("base64") : value;
  if (Buffer.isBuffer(value)) return base64 ? value.toString("base64") : value.toString("utf8");
  if (value instanceof RespError) {
    // An error nested in an array (a script can return one): the SDK can only show a string.
    return base64 ? Buffer.from(value.message, "utf8").toString("base64") : value.message;
  }
  return value.map((element) => toJson(element, base64));
}

function element(value: RespValue, base64: boolean): { result: unknown } | { error: string } {
  return value instanceof RespError ? { error: value.message } : { result: toJson(value, base64) };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.once("end", () => resolve(tooLarge ? null : Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  if (options.token === "") throw new Error("upstash bridge: the token must not be empty");
  const pool = new RespPool({
    host: options.redisHost,
    port: options.redisPort,
    db: options.db,
    size: options.connections ?? 4,
  });

  async function single(command: Command, base64: boolean, res: ServerResponse): Promise<void> {
    const refused = refusal(command);
    if (refused) {
      reply(res, 400, { error: refused });
      return;
    }
    const [value = null] = await pool.send([command]);
    if (value instanceof RespError) reply(res, 400, { error: value.message });
    else reply(res, 200, { result: toJson(value, base64) });
  }

  async function pipeline(commands: Command[], base64: boolean, res: ServerResponse): Promise<void> {
    const refusals = commands.map(refusal);
    const allowed = commands.filter((_, i) => refusals[i] === null);
    const replies = await pool.send(allowed);
    let next = 0;
    reply(
      res,
      200,
      commands.map((_, i) => {
        const refused = refusals[i];
        return refused ? { error: refused } : element(replies[next++] ?? null, base64);
      }),
    );
  }

  async function multiExec(commands: Command[], base64: boolean, res: ServerResponse): Promise<void> {
    const refused = commands.map(refusal).find((message) => message !== null);
    if (refused) {
      reply(res, 400, { error: refused });
      return;
    }
    const replies = await pool.withDedicated((connection) => connection.send([["MULTI"], ...commands, ["EXEC"]]));
    const queueError = replies.slice(1, -1).find((value) => value instanceof RespError);
    const exec = replies[replies.length - 1] ?? null;
    if (exec instanceof RespError || !Array.isArray(exec)) {
      const reason = exec instanceof RespError ? exec.message : "EXECABORT Transaction discarded";
      reply(res, 400, { error: queueError ? `${reason}: ${queueError.message}` : reason });
      return;
    }
    reply(
      res,
      200,
      exec.map((value) => element(value, base64)),
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      reply(res, 405, { error: "ERR only POST is supported" });
      return;
    }
    const presented = bearerToken(req.headers.authorization ?? null);
    if (presented === null || !constantTimeEqual(presented, options.token)) {
      reply(res, 401, { error: "Unauthorized" });
      return;
    }
    const route = new URL(req.url ?? "/", "http://bridge.invalid").pathname.replace(/^\/+/, "/").replace(/\/+$/, "");
    const body = await readBody(req);
    if (body === null) {
      reply(res, 413, { error: `ERR request larger than ${MAX_BODY_BYTES} bytes` });
      return;
    }
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    try {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString("utf8"));
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        throw new BadRequest("ERR the body is not valid JSON");
      }
      switch (route) {
        case "":
          await single(toCommand(parsed), base64, res);
          return;
        case "/pipeline":
          await pipeline(toCommands(parsed), base64, res);
          return;
        case "/multi-exec":
          await multiExec(toCommands(parsed), base64, res);
          return;
        default:
          reply(res, 404, { error: `ERR unknown endpoint ${route}` });
      }
    } catch (error) {
      if (error instanceof BadRequest) {
        reply(res, 400, { error: error.message });
        return;
      }
      throw error;
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // Redis unreachable or the connection cut mid-request: the SDK sees an UpstashError.
      log.warn("upstash bridge request failed", { err: error });
      if (!res.headersSent) reply(res, 503, { error: `ERR bridge: ${(error as Error).message}` });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 10_000;
  server.on("clientError", (error, socket) => {
    log.debug("bad request on the upstash bridge", { err: error });
    socket.destroy();
  });

  const listenHost = options.host ?? "127.0.0.1";
  await listenOn(server, options.port ?? 0, listenHost);
  server.on("error", (error) => log.error("upstash bridge server failed", { err: error }));
  const port = (server.address() as net.AddressInfo).port;
  const urlHost = listenHost === "0.0.0.0" || listenHost === "::" ? "127.0.0.1" : listenHost;

  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost.includes(":") ? `[${urlHost}]` : urlHost}:${port}`,
    port,
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }).then(() => pool.close());
      return closing;
    },
  };
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : process.argv[index + 1];
}

const invokedAsScript =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;

if (invokedAsScript) {
  const token = argument("token") ?? randomBytes(24).toString("base64url");
  const redisHost = argument("redis-host") ?? "127.0.0.1";
  const redisPort = Number(argument("redis-port") ?? 6379);
  const bridge = await startUpstashBridge({
    redisHost,
    redisPort,
    token,
    port: Number(argument("port") ?? 0),
    host: argument("host") ?? "127.0.0.1",
  });
  process.stdout.write(
    `upstash-redis-bridge: ${bridge.url} -> redis ${redisHost}:${redisPort}\n` +
      `  UPSTASH_REDIS_REST_URL=${bridge.url} UPSTASH_REDIS_REST_TOKEN=${token}\n`,
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      bridge.close().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`upstash-redis-bridge: could not close cleanly: ${String(error)}\n`);
          process.exit(1);
        },
      );
    });
  }
}
