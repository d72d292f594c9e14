/**
 * `npm run dev`: the whole of dropflow in one process on embedded defaults (PGlite
 * under DROPFLOW_DATA_DIR), or against real services when their variables are set.
 * Mounts api/ and public/ the way Vercel does and stops cleanly on SIGINT/SIGTERM.
 */
import { createServer, type Server } from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Config, ConfigError, currentEnvironment, type Environment, loadConfig } from "../lib/config.js";
import { DataDirInUseError } from "../lib/db/data-dir-lock.js";
import { migrateDatabase } from "../lib/db/migrate.js";
import { logger } from "../lib/log/index.js";
import { createRuntime, installRuntime, type Runtime } from "../lib/runtime.js";
import { randomBytes } from "node:crypto";
import { recoverActiveJobs, runWatchdog } from "../lib/jobs/index.js";
import { createDevApp } from "./app.js";
import { listenOn } from "./servers/listen.js";
import { type QstashServer, startQstashServer } from "./qstash/server.js";
import { type BlobServer, newReadWriteToken, startBlobServer } from "./blob/server.js";
import { type SimulatedUpstreams, startSimulatedUpstreams } from "./sim/upstreams.js";
import { TEST_JOB_KINDS } from "./test-kinds.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const log = logger("dev");

/**
 * The environment of a dev server on embedded defaults whatever the shell has set
 * (PGlite, in-memory state, the queue and Blob stand-ins, the eMAG and SAP
 * simulators), its data under `dataDir`, on a free port: what the demo and the
 * screenshots run on.
 */
export function embeddedEnvironment(dataDir: string): Record<string, string | undefined> {
  return {
    ...currentEnvironment(),
    DROPFLOW_DATA_DIR: dataDir,
    PORT: "0",
    LOG_LEVEL: "warn",
    DATABASE_URL: "",
    UPSTASH_REDIS_REST_URL: "",
    KV_REST_API_URL: "",
    QSTASH_TOKEN: "",
    BLOB_READ_WRITE_TOKEN: "",
    EMAG_ACCOUNTS: "",
    SAP_URL: "",
    SAP_COMPANY_DB: "",
    SAP_USER: "",
    SAP_PASSWORD: "",
  };
}

export interface DevServerOptions {
  env?: Environment;
  apiDir?: string;
  publicDir?: string;
  /** Interface to listen on; loopback unless told otherwise. */
  host?: string;
  /** Scales the embedded queue's backoffs and delays (tests run them fast). */
  queueTimeScale?: number;
  /** Run the watchdog on a timer (default: on). */
  watchdog?: boolean;
  /**
   * The eMAG and SAP simulators for the sources with no real upstream configured
   * (default: started, 2,000 offers and 2,000 items); false: none.
   */
  simulators?: { offers?: number; items?: number; seed?: number } | false;
}

export interface DevServer {
  url: string;
  port: number;
  config: Config;
  runtime: Runtime;
  /** The in-process QStash stand-in (embedded mode), with its test knobs. */
  queue: QstashServer | null;
  /** The in-process Blob stand-in (embedded mode), files under `$DROPFLOW_DATA_DIR/blobs`. */
  blob: BlobServer | null;
  /** The in-process eMAG and SAP simulators standing in for unconfigured upstreams. */
  simulators: SimulatedUpstreams | null;
  /** Runs the watchdog once now (it also runs on a timer). */
  watchdogNow(): Promise<void>;
  close(): Promise<void>;
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const config = options.env ? loadConfig(options.env) : loadConfig();
  const runtime = createRuntime(config);
  installRuntime(runtime);
  let blob: BlobServer | null = null;
  let simulators: SimulatedUpstreams | null = null;
  try {
    // Open the database before listening: a locked data directory or an unreachable
    // Postgres must stop start-up, not the first request.
    const database = await runtime.database();
    if (database.driver !== "pglite" && !config.production) {
      const result = await migrateDatabase(database);
      if (result.applied > 0) log.info("applied migrations", { applied: result.applied });
    }
    if (config.storage.mode === "embedded") {
      // Started once the database holds the data-directory lock: the stand-in keeps its
      // index in memory, so only one process may serve `<data dir>/blobs`. A fresh token
      // each start, like the queue's keys: the files persist, the credentials need not.
      blob = await startBlobServer({ dataDir: config.dataDir, token: newReadWriteToken() });
      runtime.attachObjectStore({ mode: "blob", token: blob.token, apiUrl: blob.url });
    }
    const wantsEmag = config.sync.emag === null;
    const wantsSap = config.sync.sap === null;
    if (!config.production && options.simulators !== false && (wantsEmag || wantsSap)) {
      simulators = await startSimulatedUpstreams({ emag: wantsEmag, sap: wantsSap, ...(options.simulators ?? {}) });
      runtime.attachUpstreams(simulators.upstreams);
    }
    const app = await createDevApp({
      apiDir: options.apiDir ?? path.join(ROOT, "api"),
      publicDir: options.publicDir ?? path.join(ROOT, "public"),
    });
    const server = createServer((req, res) => {
      app.handle(req, res).catch((error: unknown) => {
        log.error("request failed in the dev server", { err: error, url: req.url });
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end("Internal server error");
      });
    });
    if (config.testing.jobKinds) runtime.jobKinds.add(...TEST_JOB_KINDS);
    if (config.testing.crashAfterCommit !== null) {
      let commits = 0;
      const crashAt = config.testing.crashAfterCommit;
      const crashKind = config.testing.crashKind;
      runtime.setFaults({
        afterCommit: (jobId, chunk, kind) => {
          if (crashKind !== null && kind !== crashKind) return;
          commits += 1;
          if (commits !== crashAt) return;
          // A real crash: no lease release, no answer, no Redis completion.
          log.warn("fault knob: exiting right after a chunk commit", { job_id: jobId, chunk });
          process.exit(137);
        },
      });
    }
    const port = await listenOn(server, config.port, options.host ?? "127.0.0.1");
    const selfUrl = `http://127.0.0.1:${port}`;

    let queue: QstashServer | null = null;
    if (config.queue.mode === "embedded") {
      // Fresh credentials each start: messages do not outlive the process (the
      // watchdog re-publishes what was in flight), so nothing needs to persist.
      const settings = {
        mode: "qstash" as const,
        token: `dev_qstash_${randomBytes(18).toString("base64url")}`,
        currentSigningKey: `sig_${randomBytes(24).toString("base64url")}`,
        nextSigningKey: `sig_${randomBytes(24).toString("base64url")}`,
      };
      queue = await startQstashServer({
        port: 0,
        token: settings.token,
        currentSigningKey: settings.currentSigningKey,
        nextSigningKey: settings.nextSigningKey,
        timeScale: options.queueTimeScale,
      });
      runtime.attachQueue({ ...settings, url: queue.url }, config.publicBaseUrl ?? selfUrl);
    } else if (!config.publicBaseUrl) {
      runtime.attachQueue(config.queue, selfUrl);
    }

    if (queue) {
      // The queue lived in the previous process's memory (and, embedded, the job state
      // too): what it held is gone, so recover every active job now rather than after
      // the stall window.
      const { db } = await runtime.database();
      await recoverActiveJobs({ db, store: runtime.jobStore(), engine: await runtime.engine() });
    }

    const watchdogNow = async () => {
      const { db } = await runtime.database();
      await runWatchdog({ db, store: runtime.jobStore(), engine: await runtime.engine(), config: config.jobs, metrics: runtime.metrics() });
      await runtime.alerts()?.summarise();
    };
    // Vercel runs the watchdog as a cron; here a timer does, often enough for the stall threshold.
    const every = Math.min(60_000, Math.max(250, Math.floor(config.jobs.stallMs / 2)));
    const watchdogTimer =
      options.watchdog === false
        ? null
        : setInterval(() => {
            watchdogNow().catch((error: unknown) => log.error("watchdog run failed", { err: error }));
          }, every);
    watchdogTimer?.unref();

    return {
      url: `http://localhost:${port}`,
      port,
      config,
      runtime,
      queue,
      blob,
      simulators,
      watchdogNow,
      close: async () => {
        if (watchdogTimer) clearInterval(watchdogTimer);
        await queue?.close();
        await closeServer(server);
        // After the HTTP server: requests still in flight may be reading or writing files.
        await blob?.close();
        await simulators?.close();
        await runtime.close();
        installRuntime(undefined);
      },
    };
  } catch (error) {
    await blob?.close();
    await simulators?.close();
    await runtime.close();
    installRuntime(undefined);
    throw error;
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Idle keep-alive connections would hold close() open; in-flight requests finish first.
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 5000).unref();
  });
}

async function main(): Promise<void> {
  let server: DevServer;
  try {
    server = await startDevServer();
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DataDirInUseError) {
      process.stderr.write(`dropflow: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const { config, runtime, blob } = server;
  const database =
    config.database.driver === "pglite" ? `PGlite in ${config.database.dataDir}` : config.database.driver;
  const blobApi = (config.storage.mode === "blob" && config.storage.apiUrl) || "Vercel Blob";
  const lines = [
    `dropflow dev server on ${server.url}`,
    `  data directory: ${config.dataDir}`,
    `  database:       ${database}`,
    `  blob storage:   ${blob ? `${blob.directory} (Blob stand-in on ${blob.url})` : blobApi}`,
    `  eMAG:           ${server.simulators?.emag ? `simulator on ${server.simulators.emag.url}` : `${runtime.upstreams().emag.length} configured account(s)`}`,
    `  SAP:            ${server.simulators?.sap ? `simulator on ${server.simulators.sap.url}` : runtime.upstreams().sap ? "configured" : "not configured"}`,
  ];
  if (runtime.devTokenFile) {
    lines.push(
      `  API token:      ${runtime.apiTokens[0]}  (generated for development, stored in ${runtime.devTokenFile})`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.exit(1); // a second signal: stop waiting
    }
    stopping = true;
    log.info("stopping", { signal });
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error("unclean stop", { err: error });
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
