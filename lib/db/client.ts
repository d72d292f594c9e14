/**
 * Opens the configured database behind one drizzle type: PGlite (embedded,
 * in process), node-postgres (a real Postgres) or the Neon serverless Pool
 * (production on Vercel; locally through the WebSocket relay in dev/).
 * The same queries run on all three.
 */
import type { Pool as NeonPool, PoolClient as NeonPoolClient } from "@neondatabase/serverless";
import type { SQL } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type { Pool as PgPool, PoolClient as PgPoolClient } from "pg";
import type { DatabaseConfig } from "../config.js";
import { logger } from "../log/index.js";
import { type DataDirLock, lockDataDir } from "./data-dir-lock.js";
import * as schema from "./schema.js";

export type Schema = typeof schema;
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
export type Driver = DatabaseConfig["driver"];

export interface DatabaseHandle {
  db: Database;
  driver: Driver;
  /** Runs `select 1`; rejects when the database does not answer. */
  ping(): Promise<void>;
  /** Runs `fn` on one dedicated session (needed for advisory locks); PGlite has only one. */
  withSession<T>(fn: (db: Database) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const log = logger("db");

export interface OpenOptions {
  /** Pool size for pg/neon. Serverless functions want few connections each. */
  maxConnections?: number;
  /** Register the pool with Vercel Fluid compute so idle connections are closed before suspension. */
  attachToVercel?: boolean;
}

export type OpenableDatabase = DatabaseConfig | { driver: "pglite"; dataDir: null };

export async function openDatabase(config: OpenableDatabase, options: OpenOptions = {}): Promise<DatabaseHandle> {
  switch (config.driver) {
    case "pglite":
      return openPglite(config.dataDir);
    case "pg":
      return openNodePostgres(config.url, options);
    case "neon":
      return openNeon(config.url, config.wsProxy, options);
  }
}

async function openPglite(dataDir: string | null): Promise<DatabaseHandle> {
  const lock: DataDirLock | null = dataDir ? lockDataDir(dataDir) : null;
  try {
    // Imported lazily: the WASM build is large and production never needs it.
    const { PGlite } = await import("@electric-sql/pglite");
    const { drizzle } = await import("drizzle-orm/pglite");
    const client = await PGlite.create(dataDir ?? undefined);
    const db = drizzle({ client, schema }) as unknown as Database;
    // A single connection serialises everything, so "one session" is the database itself.
    let queue: Promise<unknown> = Promise.resolve();
    return {
      db,
      driver: "pglite",
      ping: async () => {
        await client.query("select 1");
      },
      withSession: (fn) => {
        const run = queue.then(() => fn(db));
        queue = run.catch(() => undefined);
        return run;
      },
      close: async () => {
        try {
          await client.close();
        } finally {
          lock?.release();
        }
      },
    };
  } catch (error) {
    lock?.release();
    throw error;
  }
}

/** What node-postgres' Pool and Neon's Pool (a node-postgres look-alike) have in common. */
interface SessionPool {
  query(text: string): Promise<unknown>;
  connect(): Promise<{ release(): void }>;
  end(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): unknown;
}

async function poolHandle<Pool extends SessionPool, Client>(
  driver: "pg" | "neon",
  pool: Pool,
  wrap: (client: Pool | Client) => Database,
  options: OpenOptions,
): Promise<DatabaseHandle> {
  pool.on("error", (error) => log.warn("idle database connection failed", { err: error }));
  if (options.attachToVercel) await attachPool(pool);
  return {
    db: wrap(pool),
    driver,
    ping: async () => {
      await pool.query("select 1");
    },
    withSession: async (fn) => {
      const client = await pool.connect();
      try {
        return await fn(wrap(client as Client));
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

async function openNodePostgres(url: string, options: OpenOptions): Promise<DatabaseHandle> {
  const { default: pg } = await import("pg");
  const { drizzle } = await import("drizzle-orm/node-postgres");
  const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 5 });
  return poolHandle<PgPool, PgPoolClient>(
    "pg",
    pool,
    (client) => drizzle({ client, schema }) as unknown as Database,
    options,
  );
}

async function openNeon(url: string, wsProxy: string | null, options: OpenOptions): Promise<DatabaseHandle> {
  const { Pool, neonConfig } = await import("@neondatabase/serverless");
  const { drizzle } = await import("drizzle-orm/neon-serverless");
  const { default: WebSocket } = await import("ws");
  // Node 20 has no global WebSocket; on Vercel's Node 22 `ws` works just the same.
  neonConfig.webSocketConstructor = WebSocket;
  // neonConfig is process-wide: set every field each time so one handle's relay
  // settings never leak into another's. The else branch holds the library defaults.
  if (wsProxy) {
    // A plain Postgres behind our relay: no TLS to the relay, and no pipelined
    // startup (it only works with cleartext-password auth).
    neonConfig.wsProxy = wsProxy;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineConnect = false;
  } else {
    neonConfig.wsProxy = (host) => `${host}/v2`;
    neonConfig.useSecureWebSocket = true;
    neonConfig.pipelineConnect = "password";
  }
  const pool = new Pool({ connectionString: url, max: options.maxConnections ?? 5 });
  return poolHandle<NeonPool, NeonPoolClient>(
    "neon",
    pool,
    (client) => drizzle({ client, schema }) as unknown as Database,
    options,
  );
}

async function attachPool(pool: object): Promise<void> {
  const { attachDatabasePool } = await import("@vercel/functions");
  attachDatabasePool(pool as Parameters<typeof attachDatabasePool>[0]);
}

/**
 * Runs raw SQL and returns its rows. Every driver answers `execute` with an object
 * holding `rows`, but drizzle's shared type cannot say so.
 */
export async function queryRows<Row extends Record<string, unknown>>(db: Database, query: SQL): Promise<Row[]> {
  const result = (await db.execute(query)) as unknown as { rows: Row[] };
  return result.rows;
}
