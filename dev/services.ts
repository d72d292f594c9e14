/**
 * Local services mode: dropflow as it runs in production, but every
 * cloud service replaced by a real local server or a stand-in, each its own process:
 *   real Postgres (a throwaway cluster)      <- DATABASE_URL (node-postgres)
 *   real redis-server <- Upstash REST bridge <- UPSTASH_REDIS_REST_URL
 *   QStash stand-in                          <- QSTASH_URL, signing keys
 *   Blob stand-in (files in a temp dir)      <- VERCEL_BLOB_API_URL, BLOB_READ_WRITE_TOKEN
 *   eMAG and SAP simulators (one process)    <- EMAG_ACCOUNTS, SAP_URL and its login
 *   N worker processes on one port           <- PUBLIC_BASE_URL (deliveries land here)
 * Benchmarks and multi-process tests start the whole set with startLocalServices()
 * from a bare environment and stop it afterwards; `npm run dev:services -- --workers N`
 * runs it until Ctrl-C and prints how to reach it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { currentEnvironment } from "../lib/config.js";
import { newReadWriteToken } from "./blob/tokens.js";
import { simulatorEnv } from "./sim/server.js";
import { compileApp } from "./compile.js";
import { freePort, stopProcess } from "./servers/processes.js";
import { type PostgresServer, startPostgres } from "./servers/postgres.js";
import { type RedisServer, startRedis } from "./servers/redis.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * The V8 heap each worker runs with: what a small (256 MB) function instance can
 * spend on its heap beside ~80 MB of code and buffers. Without a budget V8 lets
 * garbage pile up far past the live set, because it can (measured with
 * `npm run bench:import`: 326 MB peak without, 157 MB with, live data the same).
 * A caller's own NODE_OPTIONS (options.env) replaces it.
 */
export const WORKER_NODE_OPTIONS = "--max-old-space-size=160 --max-semi-space-size=4";

export interface LocalServicesOptions {
  workers: number;
  /** Extra environment for the workers (time knobs, test switches). */
  env?: Record<string, string>;
  /** Every line the child processes print, for a caller that wants to show or keep them. */
  onOutput?: (source: string, line: string) => void;
  /**
   * The eMAG and SAP simulators' data and the eMAG account's configured rate limit
   * (defaults: 2,000 offers, 2,000 items, 3 req/s and 180/min); false: none.
   */
  simulators?: { offers?: number; items?: number; seed?: number; ratePerSecond?: number; ratePerMinute?: number } | false;
}

export interface LocalServices {
  baseUrl: string;
  apiToken: string;
  cronSecret: string;
  databaseUrl: string;
  /** The environment the workers run with (what a client process would need too). */
  env: Record<string, string>;
  pids: { pool: number; workers: number[]; qstash: number; blob: number; bridge: number; redis: number; simulators: number | null };
  /** The simulators' base URLs (their control APIs are under /__sim/), when started. */
  simulators: { emag: string; sap: string } | null;
  /** Workers that are up now (replacements included). */
  workerPids(): number[];
  stop(): Promise<void>;
}

interface Child {
  process: ChildProcess;
  /** Resolves with the first stdout line matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

function startChild(
  name: string,
  appDir: string,
  [script, ...args]: string[],
  env: Record<string, string | undefined>,
  options: LocalServicesOptions,
): Child {
  // The compiled module (see dev/compile.ts), run by node itself: one process per
  // service, so its pid is the one that does the work (signals and peak-RSS readings
  // reach it directly).
  const entry = path.join(appDir, (script as string).replace(/\.ts$/, ".js"));
  const child = spawn(process.execPath, [entry, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const onLine = (line: string) => {
    lines.push(line);
    if (lines.length > 2000) lines.splice(0, 1000);
    options.onOutput?.(name, line);
    for (const waiter of waiters) waiter();
  };
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = "";
    stream?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      for (const part of parts) onLine(part);
    });
  }
  return {
    process: child,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (const line of lines) {
            const match = pattern.exec(line);
            if (match) {
              cleanup();
              resolve(match);
              return;
            }
          }
        };
        const onExit = (code: number | null) => {
          cleanup();
          reject(new Error(`${name} exited (${code}) before printing ${pattern}:\n${lines.slice(-30).join("\n")}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name} did not print ${pattern} within ${timeoutMs} ms:\n${lines.slice(-30).join("\n")}`));
        }, timeoutMs);
        const cleanup = () => {
          waiters.delete(check);
          child.off("exit", onExit);
          clearTimeout(timer);
        };
        waiters.add(check);
        child.once("exit", onExit);
        check();
      });
    },
  };
}

export async function startLocalServices(options: LocalServicesOptions): Promise<LocalServices> {
  const secret = (prefix: string) => `${prefix}_${randomBytes(18).toString("base64url")}`;
  const apiToken = secret("api");
  const cronSecret = secret("cron");
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "dropflow-services-"));
  const base = currentEnvironment();
  // Nothing of the caller's own dropflow settings leaks into the set.
  for (const name of Object.keys(base)) {
    if (/^(DATABASE_URL|DROPFLOW_|UPSTASH_|KV_REST_|QSTASH_|BLOB_|PORT$|PUBLIC_BASE_URL$|CRON_SECRET$|VERCEL)/.test(name)) {
      delete base[name];
    }
  }

  let postgres: PostgresServer | undefined;
  let redis: RedisServer | undefined;
  const children: Child[] = [];
  const stopAll = async () => {
    // Workers first (they talk to everything), then the services, then the databases.
    for (const child of children.reverse()) await stopProcess(child.process);
    await redis?.stop();
    await postgres?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
    const admin = new pg.Client({ connectionString: postgres.urlFor("postgres") });
    await admin.connect();
    await admin.query("create database dropflow");
    await admin.end();
    const databaseUrl = postgres.urlFor("dropflow");
    const appDir = await compileApp(path.join(dataDir, "app"));

    const redisToken = secret("redis");
    const bridge = startChild(
      "redis-bridge",
      appDir,
      ["dev/upstash-redis-bridge.ts", "--redis-port", String(redis.port), "--token", redisToken, "--port", "0"],
      base,
      options,
    );
    children.push(bridge);
    const qstashToken = secret("qstash");
    const currentKey = secret("sig");
    const nextKey = secret("sig");
    const qstash = startChild(
      "qstash",
      appDir,
      [
        "dev/qstash/server.ts",
        "--port",
        "0",
        "--token",
        qstashToken,
        "--current-signing-key",
        currentKey,
        "--next-signing-key",
        nextKey,
      ],
      base,
      options,
    );
    children.push(qstash);
    const blobToken = newReadWriteToken();
    const blob = startChild(
      "blob",
      appDir,
      ["dev/blob/server.ts", "--port", "0", "--data-dir", dataDir, "--token", blobToken],
      base,
      options,
    );
    children.push(blob);
    const simOptions = options.simulators === false ? null : (options.simulators ?? {});
    const sims = simOptions
      ? startChild(
          "simulators",
          appDir,
          ["dev/sim/server.ts", "--offers", String(simOptions.offers ?? 2000), "--items", String(simOptions.items ?? 2000), "--seed", String(simOptions.seed ?? 1)],
          base,
          options,
        )
      : null;
    if (sims) children.push(sims);
    const [bridgeUrl, qstashUrl, blobUrl, emagSimUrl, sapSimUrl] = await Promise.all([
      bridge.waitFor(/UPSTASH_REDIS_REST_URL=(\S+)/).then((m) => m[1] as string),
      qstash.waitFor(/QSTASH_URL=(\S+)/).then((m) => m[1] as string),
      blob.waitFor(/VERCEL_BLOB_API_URL=(\S+)/).then((m) => m[1] as string),
      sims?.waitFor(/EMAG_SIM_URL=(\S+)/).then((m) => m[1] as string),
      sims?.waitFor(/SAP_SIM_URL=(\S+)/).then((m) => m[1] as string),
    ]);

    const port = await freePort("127.0.0.1");
    const baseUrl = `http://127.0.0.1:${port}`;
    const env: Record<string, string> = {
      DATABASE_URL: databaseUrl,
      UPSTASH_REDIS_REST_URL: bridgeUrl,
      UPSTASH_REDIS_REST_TOKEN: redisToken,
      QSTASH_URL: qstashUrl,
      QSTASH_TOKEN: qstashToken,
      QSTASH_CURRENT_SIGNING_KEY: currentKey,
      QSTASH_NEXT_SIGNING_KEY: nextKey,
      BLOB_READ_WRITE_TOKEN: blobToken,
      VERCEL_BLOB_API_URL: blobUrl,
      PUBLIC_BASE_URL: baseUrl,
      PORT: String(port),
      DROPFLOW_DATA_DIR: dataDir,
      DROPFLOW_API_TOKENS: apiToken,
      CRON_SECRET: cronSecret,
      LOG_LEVEL: "warn",
      NODE_OPTIONS: WORKER_NODE_OPTIONS,
      ...(simOptions ? simulatorEnv({ emag: emagSimUrl, sap: sapSimUrl }, simOptions) : {}),
      ...options.env,
    };
    const pool = startChild("workers", appDir, ["dev/worker-pool.ts", "--workers", String(options.workers)], { ...base, ...env }, options);
    children.push(pool);
    const workers = new Set<number>();
    pool.process.stdout?.on("data", (chunk: Buffer) => {
      for (const match of chunk.toString().matchAll(/worker ready pid=(\d+)/g)) workers.add(Number(match[1]));
    });
    await pool.waitFor(/worker pool on/);
    // Every worker must be listening before the first client request.
    const until = Date.now() + 60_000;
    while (workers.size < options.workers) {
      if (Date.now() > until) throw new Error(`only ${workers.size} of ${options.workers} workers started`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
        throw error;
      }
    };
    return {
      baseUrl,
      apiToken,
      cronSecret,
      databaseUrl,
      env,
      pids: {
        pool: pool.process.pid ?? 0,
        workers: [...workers],
        qstash: qstash.process.pid ?? 0,
        blob: blob.process.pid ?? 0,
        bridge: bridge.process.pid ?? 0,
        redis: redis.pid,
        simulators: sims?.process.pid ?? null,
      },
      simulators: emagSimUrl && sapSimUrl ? { emag: emagSimUrl, sap: sapSimUrl } : null,
      workerPids: () => [...workers].filter(alive),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** A memory figure of a process's /proc status (Linux) in MB, or null once it is gone. */
export function procStatusMb(pid: number, field: "VmHWM" | "VmRSS"): number | null {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Math.round(Number(match[1]) / 1024) : null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** Peak resident set size of a process in MB, or null once it is gone. */
export const peakRssMb = (pid: number): number | null => procStatusMb(pid, "VmHWM");

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { workers: { type: "string", default: "2" } } });
  const services = await startLocalServices({
    workers: Math.max(1, Number(values.workers)),
    onOutput: (source, line) => process.stdout.write(`[${source}] ${line}\n`),
  });
  process.stdout.write(
    [
      `dropflow local services: ${services.baseUrl} (${services.pids.workers.length} workers)`,
      `  API token:    ${services.apiToken}`,
      `  DATABASE_URL=${services.databaseUrl}`,
      `  VERCEL_BLOB_API_URL=${services.env.VERCEL_BLOB_API_URL} (files in a temporary directory, removed at exit)`,
      ...(services.simulators ? [`  eMAG simulator: ${services.simulators.emag}   SAP simulator: ${services.simulators.sap}`] : []),
      `  try: curl -H "authorization: Bearer ${services.apiToken}" ${services.baseUrl}/api/health`,
      "Ctrl-C stops every process.",
      "",
    ].join("\n"),
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    services.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`could not stop cleanly: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await main();
}
