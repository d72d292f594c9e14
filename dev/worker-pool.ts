/**
 * Local services mode's workers: N processes of the dev server sharing one port
 * (Node's cluster module), standing in for Vercel's function instances behind one
 * URL. Each worker accepts its own connections (SCHED_NONE): with the cluster's
 * round-robin the primary accepts them and hands each over, and a connection handed
 * to a worker that dies before acknowledging it is never closed nor passed on, so
 * its client waits forever (seen as hung test requests while workers crash on
 * purpose). A dying worker's own connections are reset, and clients retry. A worker that dies is replaced, as Vercel
 * starts a new instance; the primary runs the watchdog cron the way Vercel cron
 * would, by calling GET /api/cron/watchdog with the cron secret.
 *
 * Started by dev/services.ts with the whole environment set; run directly it uses
 * whatever the environment says: `tsx dev/worker-pool.ts --workers 2`.
 */
import cluster from "node:cluster";
import { parseArgs } from "node:util";
import { ConfigError, currentEnvironment, loadConfig } from "../lib/config.js";
import { openDatabase } from "../lib/db/client.js";
import { migrateDatabase } from "../lib/db/migrate.js";
import { logger } from "../lib/log/index.js";
import { startDevServer } from "./server.js";

const log = logger("workers");

async function primary(workers: number): Promise<void> {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const config = loadConfig();
  // Migrate once here rather than racing N workers to it.
  const handle = await openDatabase(config.database, { maxConnections: 1 });
  try {
    await migrateDatabase(handle);
  } finally {
    await handle.close();
  }

  let stopping = false;
  const spawnWorker = (env: Record<string, string | undefined> = {}) => {
    const worker = cluster.fork(env);
    worker.on("exit", (code, signal) => {
      if (stopping) return;
      log.warn("worker died; starting a replacement", { pid: worker.process.pid, code, signal });
      // The fault knob is for the first generation only; a replacement runs clean.
      spawnWorker({ DROPFLOW_FAULT_CRASH_AFTER_COMMIT: "" });
    });
    worker.on("message", (message: unknown) => {
      if ((message as { ready?: boolean }).ready) {
        process.stdout.write(`worker ready pid=${worker.process.pid}\n`);
      }
    });
  };
  for (let i = 0; i < workers; i++) spawnWorker();

  const base = `http://127.0.0.1:${config.port}`;
  const every = Math.min(60_000, Math.max(250, Math.floor(config.jobs.stallMs / 2)));
  const cron = setInterval(() => {
    fetch(`${base}/api/cron/watchdog`, { headers: { authorization: `Bearer ${config.cronSecret ?? ""}` } }).catch(
      (error: unknown) => log.warn("watchdog cron call failed", { err: error }),
    );
  }, every);

  const stop = () => {
    if (stopping) return;
    stopping = true;
    clearInterval(cron);
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
    const until = Date.now() + 10_000;
    const wait = setInterval(() => {
      const alive = Object.values(cluster.workers ?? {}).filter((worker) => worker && !worker.isDead());
      if (alive.length === 0 || Date.now() > until) {
        clearInterval(wait);
        for (const worker of alive) worker?.process.kill("SIGKILL");
        process.exit(0);
      }
    }, 50);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.stdout.write(`worker pool on ${base} with ${workers} worker(s), primary pid=${process.pid}\n`);
}

async function worker(): Promise<void> {
  const server = await startDevServer({ env: currentEnvironment(), watchdog: false });
  process.send?.({ ready: true, pid: process.pid });
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

try {
  if (cluster.isPrimary) {
    const { values } = parseArgs({ options: { workers: { type: "string", default: "2" } } });
    await primary(Math.max(1, Number(values.workers)));
  } else {
    await worker();
  }
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`dropflow workers: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}
