/**
 * Databases for suites, on the one server that global-setup.ts started. Each suite file
 * gets its own database cloned from the migrated template (milliseconds, no migration
 * run), so files run in parallel without seeing each other's rows; it is dropped when
 * the file ends. The fixture shape follows trigger.dev's `postgresTest`.
 *
 *   import { postgresTest } from "../support/databases.js";
 *   describePostgres("stores", () => {
 *     postgresTest("…", async ({ database }) => { … database.url … });
 *   });
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { getTableName, is } from "drizzle-orm";
import { PgTable } from "drizzle-orm/pg-core";
import pg from "pg";
import { describe, inject, test } from "vitest";
import { type NeonRelay, startNeonRelay } from "../../dev/neon-relay.js";
import { MIGRATIONS_DIR } from "../../lib/db/migrate.js";
import * as schema from "../../lib/db/schema.js";
import { type PostgresInfo, SKIP_MARKER, skipBanner } from "./global-setup.js";

export { SKIP_MARKER };

export type AvailablePostgres = Extract<PostgresInfo, { available: true }>;

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops it, cutting any connection still open. Idempotent. */
  drop(): Promise<void>;
}

/** Every table that lib/db/schema.ts declares, sorted. */
export function schemaTableNames(): string[] {
  return Object.values(schema as Record<string, unknown>)
    .filter((value): value is PgTable => is(value, PgTable))
    .map((table) => getTableName(table))
    .sort();
}

export interface JournalEntry {
  idx: number;
  when: number;
  tag: string;
}

/** drizzle/meta/_journal.json: the migrations drizzle's migrator knows about. */
export function migrationJournal(): JournalEntry[] {
  const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_DIR, "meta", "_journal.json"), "utf8")) as {
    entries: JournalEntry[];
  };
  return journal.entries;
}

let bannerShown = false;

/** The run's server, or null after printing the skip banner (once per file) with the reason. */
export function availablePostgres(): AvailablePostgres | null {
  const info = inject("postgres");
  if (info.available) return info;
  if (!bannerShown) {
    bannerShown = true;
    process.stderr.write(skipBanner(info.reason));
  }
  return null;
}

function requirePostgres(): AvailablePostgres {
  const info = inject("postgres");
  if (!info.available) {
    throw new Error(`${SKIP_MARKER}: ${info.reason} (use describePostgres so the suite skips instead)`);
  }
  return info;
}

export function postgresUrl(info: AvailablePostgres, database: string): string {
  return `postgres://${encodeURIComponent(info.user)}@${info.host}:${info.port}/${encodeURIComponent(database)}`;
}

async function maintenance(info: AvailablePostgres, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl(info, "postgres") });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

export interface CreateOptions {
  /** A bare database (no tables, no migrations) instead of a clone of the migrated template. */
  empty?: boolean;
}

/** A fresh database: a clone of the migrated template, or empty. The caller drops it. */
export function createTestDatabase(options: CreateOptions = {}): Promise<TestDatabase> {
  return createDatabaseOn(requirePostgres(), options);
}

async function createDatabaseOn(info: AvailablePostgres, options: CreateOptions): Promise<TestDatabase> {
  const name = `t_${randomBytes(6).toString("hex")}`;
  await maintenance(info, `create database "${name}"${options.empty ? "" : ` template "${info.templateDb}"`}`);
  let dropping: Promise<void> | null = null;
  return {
    name,
    url: postgresUrl(info, name),
    drop: () => {
      dropping ??= maintenance(info, `drop database if exists "${name}" with (force)`);
      return dropping;
    },
  };
}

/** `describe` that skips, printing SKIP_MARKER and the reason, when there is no server. */
export function describePostgres(name: string, fn: () => void): void {
  if (availablePostgres()) describe(name, fn);
  else describe.skip(name, fn);
}

/**
 * `postgres`: the server (worker scope). `database`: a fresh migrated database for the
 * whole file, dropped after its last test (file scope).
 */
export const postgresTest = test
  .extend("postgres", { scope: "worker" }, () => requirePostgres())
  .extend("database", { scope: "file" }, async ({ postgres }, { onCleanup }) => {
    const database = await createDatabaseOn(postgres, {});
    onCleanup(() => database.drop());
    return database;
  });

/**
 * Adds `neonRelay` (file scope): a relay for the Neon driver that reaches only this
 * run's server. Pass `neonRelay.wsProxy` as the database config's wsProxy.
 */
export const neonTest = postgresTest.extend(
  "neonRelay",
  { scope: "file" },
  async ({ postgres }, { onCleanup }): Promise<NeonRelay> => {
    const relay = await startNeonRelay({
      allow: (host, port) => port === postgres.port && (host === postgres.host || host === "localhost"),
    });
    onCleanup(() => relay.close());
    return relay;
  },
);
