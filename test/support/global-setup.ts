/**
 * vitest globalSetup: one real PostgreSQL for the whole run, with a migrated template
 * database that suites clone (`CREATE DATABASE … TEMPLATE`, see databases.ts), and one
 * real redis-server (suites isolate themselves by key prefix, see redis-fixtures.ts).
 * The two start side by side. Without a server's binaries its suites skip, loudly: CI
 * greps the output for SKIP_MARKER and fails, so a missing server can never pass as
 * green. Likewise without the shared fixtures (shared-fixtures.ts): one line with
 * FIXTURES_SKIP_MARKER at the end of the run, which CI greps for too.
 */
import pg from "pg";
import type { TestProject } from "vitest/node";
import { openDatabase } from "../../lib/db/client.js";
import { migrateDatabase } from "../../lib/db/migrate.js";
import { findPostgresBinaries, type PostgresServer, startPostgres } from "../../dev/servers/postgres.js";
import { findRedisServer, startRedis } from "../../dev/servers/redis.js";
import { fixturesNotice } from "./shared-fixtures.js";

export const SKIP_MARKER = "DROPFLOW-SKIPPED-FOR-WANT-OF-SERVER";
export const TEMPLATE_DB = "dropflow_template";

export type PostgresInfo =
  | { available: true; host: string; port: number; user: string; version: number; templateDb: string }
  | { available: false; reason: string };

export type RedisInfo =
  | { available: true; host: string; port: number; version: string }
  | { available: false; reason: string };

declare module "vitest" {
  export interface ProvidedContext {
    postgres: PostgresInfo;
    redis: RedisInfo;
  }
}

/** The banner printed wherever server-backed tests are skipped. */
export function skipBanner(reason: string, what = "Postgres-backed"): string {
  const rule = "!".repeat(78);
  return `\n${rule}\n!! ${SKIP_MARKER}: ${what} tests are SKIPPED\n!! ${reason}\n${rule}\n\n`;
}

type Teardown = (() => Promise<void>) | undefined;

export default async function setup(project: TestProject): Promise<Teardown> {
  const [postgres, redis] = await Promise.allSettled([setupPostgres(project), setupRedis(project)]);
  const teardowns = [postgres, redis].flatMap((result) =>
    result.status === "fulfilled" && result.value ? [result.value] : [],
  );
  const teardown = async () => {
    const stopped = await Promise.allSettled(teardowns.map((stop) => stop()));
    const failure = stopped.find((result) => result.status === "rejected");
    if (failure) throw failure.reason;
  };
  const failed = [postgres, redis].find((result) => result.status === "rejected");
  if (failed) {
    // One server failed to start: stop the other before failing the run.
    await teardown();
    throw failed.reason;
  }
  // Printed after the run, with the count of fixture tests it skipped.
  const notice = fixturesNotice(project);
  if (notice) teardowns.push(notice);
  return teardowns.length > 0 ? teardown : undefined;
}

async function setupRedis(project: TestProject): Promise<Teardown> {
  const started = performance.now();
  const found = findRedisServer();
  if (!found.binary) {
    process.stderr.write(skipBanner(found.reason, "Redis-backed"));
    project.provide("redis", { available: false, reason: found.reason });
    return undefined;
  }
  const server = await startRedis({ binary: found.binary });
  project.provide("redis", { available: true, host: server.host, port: server.port, version: server.version });
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  process.stderr.write(
    `[global-setup] redis-server ${server.version} on ${server.host}:${server.port}, in ${seconds} s\n`,
  );
  return () => server.stop();
}

async function setupPostgres(project: TestProject): Promise<Teardown> {
  const started = performance.now();
  const found = findPostgresBinaries();
  if (!found.binaries) {
    process.stderr.write(skipBanner(found.reason));
    project.provide("postgres", { available: false, reason: found.reason });
    return undefined;
  }
  const server = await startPostgres({ binaries: found.binaries });
  try {
    await createTemplate(server);
  } catch (error) {
    await server.stop();
    throw error;
  }
  project.provide("postgres", {
    available: true,
    host: server.host,
    port: server.port,
    user: server.user,
    version: server.version,
    templateDb: TEMPLATE_DB,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  process.stderr.write(
    `[global-setup] PostgreSQL ${server.version} on ${server.host}:${server.port}, ${TEMPLATE_DB} migrated, in ${seconds} s\n`,
  );
  return () => server.stop();
}

async function createTemplate(server: PostgresServer): Promise<void> {
  const maintenance = server.urlFor("postgres");
  await runStatement(maintenance, `create database ${TEMPLATE_DB}`);
  const handle = await openDatabase({ driver: "pg", url: server.urlFor(TEMPLATE_DB) }, { maxConnections: 1 });
  try {
    await migrateDatabase(handle);
  } finally {
    await handle.close();
  }
  // CREATE DATABASE … TEMPLATE refuses a template with an open session, so no suite may
  // connect to it by mistake.
  await runStatement(maintenance, `alter database ${TEMPLATE_DB} with is_template true allow_connections false`);
}

async function runStatement(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
