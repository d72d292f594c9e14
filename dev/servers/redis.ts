/**
 * A throwaway redis-server for tests, started from the locally installed binary (CI
 * installs Debian's redis-server; there is no Docker). It listens on a free loopback
 * port — never the machine's own 6379 — keeps nothing on disk, and is always cleaned
 * up: the same detached watchdog as postgres.ts stops it and deletes its directory as
 * soon as the process that started it is gone, however it died.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RespConnection } from "../resp.js";
import { currentEnvironment } from "../../lib/config.js";
import { freePort, releaseWatchdog, spawnWatchdog, stopProcess, watch } from "./processes.js";

export interface RedisBinary {
  path: string;
  /** e.g. "7.0.15". */
  version: string;
  major: number;
}

export type FindRedisResult = { binary: RedisBinary; reason?: undefined } | { binary: null; reason: string };

// Scripts call TIME before writing, which needs effects replication: the default from 7.
const MIN_MAJOR = 7;

/** The first redis-server on PATH that is version 7 or newer. */
export function findRedisServer(): FindRedisResult {
  const pathDirs = (currentEnvironment().PATH ?? "").split(path.delimiter).filter((dir) => dir !== "");
  const candidates = pathDirs.map((dir) => path.join(dir, "redis-server"));
  const tooOld: string[] = [];
  for (const candidate of new Set(candidates)) {
    if (!existsSync(candidate)) continue;
    const version = readVersion(candidate);
    if (!version) continue;
    if (version.major >= MIN_MAJOR) return { binary: { path: candidate, ...version } };
    tooOld.push(`${candidate} is ${version.version}`);
  }
  const found = tooOld.length > 0 ? ` (${tooOld.join("; ")})` : "";
  return {
    binary: null,
    reason: `no redis-server ${MIN_MAJOR} or newer on PATH${found}; install redis-server`,
  };
}

function readVersion(binary: string): { version: string; major: number } | null {
  try {
    const output = execFileSync(binary, ["--version"], { encoding: "utf8", timeout: 10_000 });
    const match = /\bv=(\d+)\.(\d+)\.(\d+)/.exec(output);
    return match ? { version: `${match[1]}.${match[2]}.${match[3]}`, major: Number(match[1]) } : null;
  } catch (error) {
    // Not executable by us (or not a redis-server): keep looking elsewhere.
    const code = (error as NodeJS.ErrnoException).code;
    if (
      code === "EACCES" ||
      code === "ENOENT" ||
      code === "ENOEXEC" ||
      typeof (error as { status?: unknown }).status === "number"
    ) {
      return null;
    }
    throw error;
  }
}

export interface RedisServer {
  host: string;
  port: number;
  version: string;
  pid: number;
  /** The temporary directory holding its (empty) working directory and log. */
  directory: string;
  /** Stops the server, waits for it to exit, deletes the directory. Idempotent. */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  binary?: RedisBinary;
  /** Milliseconds to wait for the server to answer PING. */
  startTimeoutMs?: number;
}

const HOST = "127.0.0.1";

export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  let binary = options.binary;
  if (!binary) {
    const found = findRedisServer();
    if (!found.binary) throw new Error(found.reason);
    binary = found.binary;
  }
  const directory = mkdtempSync(path.join(os.tmpdir(), "dropflow-redis-"));
  const watchdog = spawnWatchdog(directory, "dropflow-redis-watchdog");
  const logFile = path.join(directory, "server.log");
  let server: ChildProcess | null = null;
  try {
    const started = await startServer(binary, directory, logFile, watchdog, options.startTimeoutMs);
    server = started.child;
    const running = server;
    let stopping: Promise<void> | null = null;
    return {
      host: HOST,
      port: started.port,
      version: binary.version,
      pid: running.pid ?? -1,
      directory,
      stop: () => {
        stopping ??= shutdown(running, directory, watchdog);
        return stopping;
      },
    };
  } catch (error) {
    await shutdown(server, directory, watchdog);
    throw error;
  }
}

async function startServer(
  binary: RedisBinary,
  directory: string,
  logFile: string,
  watchdog: ChildProcess,
  timeoutMs = 15_000,
): Promise<{ child: ChildProcess; port: number }> {
  // A free port can be taken between our probe and redis's bind; then try another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(HOST);
    const logFd = openSync(logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(
        binary.path,
        [
          ["--port", String(port)],
          ["--bind", HOST],
          ["--save", ""],
          ["--appendonly", "no"],
          ["--dir", directory],
          ["--daemonize", "no"],
          ["--protected-mode", "yes"],
        ].flat(),
        // Its own session: the runner's Ctrl-C must not stop the server under running tests.
        { detached: true, stdio: ["ignore", logFd, logFd] },
      );
    } finally {
      closeSync(logFd);
    }
    watch(watchdog, child);
    child.unref();
    const outcome = await waitUntilReady(child, port, timeoutMs);
    if (outcome === "ready") return { child, port };
    if (outcome !== "exited") await stopProcess(child, 5_000);
    const log = readLog(logFile);
    const portTaken =
      outcome === "someone else's server" || (outcome === "exited" && /Address already in use|bind/i.test(log));
    if (portTaken && attempt < 3) continue;
    throw new Error(`redis-server did not start (${outcome}, port ${port}); its log:\n${log}`);
  }
}

type Readiness = "ready" | "exited" | "timeout" | "someone else's server";

async function waitUntilReady(child: ChildProcess, port: number, timeoutMs: number): Promise<Readiness> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return "exited";
    let connection: RespConnection | null = null;
    try {
      connection = await RespConnection.connect({ host: HOST, port, connectTimeoutMs: 1_000 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ECONNREFUSED" && code !== "ECONNRESET" && !/timed out/.test((error as Error).message)) {
        throw error;
      }
    }
    if (connection) {
      try {
        const pong = await connection.call("PING");
        if (pong !== "PONG") return "someone else's server";
        // Whatever answers on the port need not be ours: if the port was taken after our
        // probe, ours fails to bind and another server (even the system one) would answer.
        const info = await connection.call("INFO", "server");
        const pid = /process_id:(\d+)/.exec(Buffer.isBuffer(info) ? info.toString("utf8") : String(info))?.[1];
        return Number(pid) === child.pid ? "ready" : "someone else's server";
      } finally {
        await connection.close();
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return "timeout";
}

function readLog(logFile: string): string {
  try {
    return readFileSync(logFile, "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "(no log written)";
    throw error;
  }
}

async function shutdown(server: ChildProcess | null, directory: string, watchdog: ChildProcess): Promise<void> {
  if (server) await stopProcess(server, 5_000);
  rmSync(directory, { recursive: true, force: true });
  await releaseWatchdog(watchdog);
}
