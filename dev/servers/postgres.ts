/**
 * A throwaway PostgreSQL server for tests, started from the locally installed binaries
 * (CI installs postgresql-15; there is no Docker). It lives in a temporary directory,
 * listens on loopback only, trades durability for speed, and is always cleaned up: a
 * detached watchdog stops it and deletes the directory as soon as the process that
 * started it is gone, however it died.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  accessSync,
  chownSync,
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { currentEnvironment } from "../../lib/config.js";
import { exitOf, freePort, releaseWatchdog, spawnWatchdog, stopProcess, watch } from "./processes.js";

export interface PostgresBinaries {
  binDir: string;
  /** Major version, e.g. 15. */
  version: number;
  initdb: string;
  postgres: string;
}

export type FindBinariesResult =
  | { binaries: PostgresBinaries; reason?: undefined }
  | { binaries: null; reason: string };

const DEBIAN_ROOT = "/usr/lib/postgresql";

/** The newest PostgreSQL under /usr/lib/postgresql/<major>/bin, else initdb/postgres on PATH. */
export function findPostgresBinaries(root: string = DEBIAN_ROOT): FindBinariesResult {
  const looked: string[] = [];
  if (existsSync(root)) {
    // 15 first: it is the oldest version dropflow supports, so SQL that
    // needs a newer Postgres fails here rather than in production. Then the newest.
    const majors = readdirSync(root)
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .sort((a, b) => (a === 15 ? -1 : b === 15 ? 1 : b - a));
    for (const major of majors) {
      const binDir = path.join(root, String(major), "bin");
      looked.push(binDir);
      const found = binariesIn(binDir);
      if (found) return { binaries: found };
    }
  } else {
    looked.push(root);
  }
  const pathDirs = (currentEnvironment().PATH ?? "").split(path.delimiter).filter((dir) => dir !== "");
  for (const dir of pathDirs) {
    const found = binariesIn(dir);
    if (found) return { binaries: found };
  }
  looked.push("$PATH");
  return {
    binaries: null,
    reason: `no PostgreSQL server binaries (initdb and postgres) in ${looked.join(", ")}; install postgresql-15`,
  };
}

function binariesIn(binDir: string): PostgresBinaries | null {
  const initdb = path.join(binDir, "initdb");
  const postgres = path.join(binDir, "postgres");
  if (!existsSync(initdb) || !existsSync(postgres)) return null;
  const version = readMajorVersion(postgres);
  return version === null ? null : { binDir, version, initdb, postgres };
}

function readMajorVersion(postgres: string): number | null {
  try {
    const output = execFileSync(postgres, ["--version"], { encoding: "utf8", timeout: 10_000 });
    const match = /\(PostgreSQL\)\s+(\d+)/.exec(output);
    return match ? Number(match[1]) : null;
  } catch (error) {
    // Not executable by us (or not a PostgreSQL): keep looking elsewhere.
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

export interface PostgresServer {
  host: string;
  port: number;
  user: string;
  version: number;
  /** The temporary directory holding the cluster, the socket and the server log. */
  directory: string;
  /** `postgres://postgres@127.0.0.1:<port>/<dbName>` (trust authentication: no password). */
  urlFor(dbName: string): string;
  /** Fast shutdown, waits for the server to exit, deletes the directory. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  binaries?: PostgresBinaries;
  /** Milliseconds to wait for the server to accept connections. */
  startTimeoutMs?: number;
}

const HOST = "127.0.0.1";
const USER = "postgres";

// Below this much free space a RAM-backed /dev/shm (Docker gives 64 MB) is not worth the risk.
const MIN_SHM_BYTES = 1024 ** 3;

/**
 * Where the cluster goes: /dev/shm when it is roomy, since nothing here needs to survive
 * and a disk-backed initdb costs about four times as long (1.25 s against 0.3 s on the
 * 2-core box, mostly kernel time), else the system temporary directory.
 */
function scratchRoot(): string {
  const shm = "/dev/shm";
  try {
    const stats = statfsSync(shm);
    accessSync(shm, constants.W_OK);
    if (stats.bavail * stats.bsize >= MIN_SHM_BYTES) return shm;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "EACCES" && code !== "EROFS" && code !== "ENOTDIR") throw error;
  }
  return os.tmpdir();
}

interface RunAs {
  uid: number;
  gid: number;
}

/** initdb and postgres refuse to run as root; as root we run them as the postgres user. */
function runAsIdentity(): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith(`${USER}:`));
  const fields = line?.split(":");
  if (!fields || fields.length < 4) {
    throw new Error("Running as root, but there is no 'postgres' user to run initdb and postgres as");
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

export async function startPostgres(options: StartOptions = {}): Promise<PostgresServer> {
  let binaries = options.binaries;
  if (!binaries) {
    const found = findPostgresBinaries();
    if (!found.binaries) throw new Error(found.reason);
    binaries = found.binaries;
  }
  const runAs = runAsIdentity();
  const directory = mkdtempSync(path.join(scratchRoot(), "dropflow-pg-"));
  if (runAs) chownSync(directory, runAs.uid, runAs.gid);
  const watchdog = spawnWatchdog(directory, "dropflow-pg-watchdog");
  const dataDir = path.join(directory, "data");
  const logFile = path.join(directory, "server.log");
  let server: ChildProcess | null = null;
  try {
    await initdb(binaries, dataDir, runAs, watchdog);
    const started = await startServer(binaries, dataDir, directory, logFile, runAs, watchdog, options.startTimeoutMs);
    server = started.child;
    const port = started.port;
    const running = server;
    let stopping: Promise<void> | null = null;
    return {
      host: HOST,
      port,
      user: USER,
      version: binaries.version,
      directory,
      urlFor: (dbName) => `postgres://${USER}@${HOST}:${port}/${encodeURIComponent(dbName)}`,
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

function spawnAs(command: string, args: string[], runAs: RunAs | null, stdio: "pipe" | number): ChildProcess {
  // initdb gets its locale as an argument; the shell's (possibly one this machine lacks)
  // must not leak in.
  const env = { ...currentEnvironment(), LC_ALL: "C", LANG: "C" };
  return spawn(command, args, {
    env,
    // Its own session: the runner's Ctrl-C must not stop the server under running tests.
    detached: true,
    stdio: stdio === "pipe" ? ["ignore", "pipe", "pipe"] : ["ignore", stdio, stdio],
    ...(runAs ?? {}),
  });
}

async function initdb(
  binaries: PostgresBinaries,
  dataDir: string,
  runAs: RunAs | null,
  watchdog: ChildProcess,
): Promise<void> {
  // C.UTF-8 is what Neon uses; fall back to plain C where the libc lacks it (macOS).
  const attempts = [["--locale=C.UTF-8"], ["--no-locale"]];
  let lastOutput = "";
  for (const localeArgs of attempts) {
    const args = ["-D", dataDir, "-A", "trust", "-U", USER, "--no-sync", "-E", "UTF8", ...localeArgs];
    const child = spawnAs(binaries.initdb, args, runAs, "pipe");
    watch(watchdog, child);
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await exitOf(child);
    if (code === 0) return;
    lastOutput = output;
    if (!/locale/i.test(output)) break;
    rmSync(dataDir, { recursive: true, force: true });
  }
  throw new Error(`initdb failed:\n${lastOutput.trim()}`);
}

async function startServer(
  binaries: PostgresBinaries,
  dataDir: string,
  socketDir: string,
  logFile: string,
  runAs: RunAs | null,
  watchdog: ChildProcess,
  timeoutMs = 30_000,
): Promise<{ child: ChildProcess; port: number }> {
  // A free port can be taken between our probe and postgres's bind; then try another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(HOST);
    const logFd = openSync(logFile, "a");
    let child: ChildProcess;
    try {
      child = spawnAs(
        binaries.postgres,
        [
          ["-D", dataDir],
          ["-p", String(port)],
          ["-k", socketDir],
          ["-c", `listen_addresses=${HOST}`],
          ["-c", "fsync=off"],
          ["-c", "synchronous_commit=off"],
          ["-c", "full_page_writes=off"],
          ["-c", "max_connections=200"],
          ["-c", "logging_collector=off"],
        ].flat(),
        runAs,
        logFd,
      );
    } finally {
      closeSync(logFd);
    }
    watch(watchdog, child);
    child.unref();
    const outcome = await waitUntilReady(child, port, dataDir, timeoutMs);
    if (outcome === "ready") return { child, port };
    if (outcome !== "exited") await stopProcess(child);
    const log = readLog(logFile);
    const portTaken =
      outcome === "someone else's server" ||
      (outcome === "exited" && /could not (bind|create listen socket)|Address already in use/i.test(log));
    if (portTaken && attempt < 3) continue;
    throw new Error(`PostgreSQL did not start (${outcome}, port ${port}); its log:\n${log}`);
  }
}

type Readiness = "ready" | "exited" | "timeout" | "someone else's server";

async function waitUntilReady(
  child: ChildProcess,
  port: number,
  dataDir: string,
  timeoutMs: number,
): Promise<Readiness> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return "exited";
    const client = new pg.Client({
      host: HOST,
      port,
      user: USER,
      database: "postgres",
      connectionTimeoutMillis: 2_000,
    });
    // Should the server drop the connection after it was made, the pending query rejects
    // with the same error; the listener only keeps the event from crashing the process.
    client.on("error", () => undefined);
    let connected = false;
    try {
      await client.connect();
      connected = true;
    } catch (error) {
      if (isForeign(error)) return "someone else's server";
      if (!isNotReadyYet(error)) throw error;
    }
    if (connected) {
      try {
        // Whatever answers on the port need not be ours: if the port was taken after our
        // probe, ours fails to bind and another server (even the system one) would answer.
        const { rows } = await client.query<{ dir: string }>("select current_setting('data_directory') as dir");
        return path.resolve(rows[0]?.dir ?? "") === path.resolve(dataDir) ? "ready" : "someone else's server";
      } catch (error) {
        if (isForeign(error)) return "someone else's server";
        throw error;
      } finally {
        await client.end();
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return "timeout";
}

/** Refusals that only a server other than ours (trust auth, superuser postgres) gives. */
function isForeign(error: unknown): boolean {
  const { code } = error as { code?: unknown };
  // 28000/28P01: authentication; 3D000: no such database; 42501: not allowed to read data_directory.
  return code === "28000" || code === "28P01" || code === "3D000" || code === "42501";
}

function readLog(logFile: string): string {
  try {
    return readFileSync(logFile, "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "(no log written)";
    throw error;
  }
}

/** Connection refused, or "the database system is starting up" (57P03). */
function isNotReadyYet(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (
    code === "ECONNREFUSED" ||
    code === "ECONNRESET" ||
    code === "57P03" ||
    (typeof message === "string" && /timeout|terminated unexpectedly/i.test(message))
  );
}

async function shutdown(server: ChildProcess | null, directory: string, watchdog: ChildProcess): Promise<void> {
  if (server) await stopProcess(server);
  rmSync(directory, { recursive: true, force: true });
  await releaseWatchdog(watchdog);
}
