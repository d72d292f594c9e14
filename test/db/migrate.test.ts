/**
 * `npm run db:migrate` as Vercel's build runs it: a child process configured only by
 * its environment, against a real PostgreSQL and against the embedded PGlite.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { describe, expect, inject, onTestFinished, test } from "vitest";
import { currentEnvironment } from "../../lib/config.js";
import { MIGRATION_LOCK_KEY } from "../../lib/db/migrate.js";
import { createTestDatabase, describePostgres, migrationJournal, schemaTableNames } from "../support/databases.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const SCRIPT = path.join(ROOT, "scripts", "migrate.ts");

const JOURNAL = migrationJournal();
const MIGRATIONS = JOURNAL.length;
const SCHEMA_TABLES = schemaTableNames();

// Variables of ours that the developer's shell might set; each run states its own.
const CONTROLLED = ["DATABASE_URL", "DROPFLOW_PG_DRIVER", "DROPFLOW_NEON_WSPROXY", "DROPFLOW_DATA_DIR", "VERCEL"];

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runMigrate(vars: Record<string, string>): Promise<RunResult> {
  const env = currentEnvironment();
  for (const name of CONTROLLED) delete env[name];
  Object.assign(env, { NODE_ENV: "test" }, vars);
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [SCRIPT], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function expectSuccess(result: RunResult): void {
  expect(result, `db:migrate failed:\n${result.stderr}`).toMatchObject({ code: 0 });
}

function appliedOf(result: RunResult): number {
  const match = /applied (\d+) migration\(s\), (\d+) in all/.exec(result.stdout);
  if (!match) throw new Error(`db:migrate printed no summary:\n${result.stdout}\n${result.stderr}`);
  expect(Number(match[2])).toBe(MIGRATIONS);
  return Number(match[1]);
}

async function inspect(url: string): Promise<{ tables: string[]; migrations: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ name: string }>(
      "select table_name as name from information_schema.tables where table_schema = 'public'",
    );
    const migrations = await client.query<{ n: number }>("select count(*)::int as n from drizzle.__drizzle_migrations");
    return { tables: tables.rows.map((row) => row.name).sort(), migrations: migrations.rows[0]?.n ?? -1 };
  } finally {
    await client.end();
  }
}

async function emptyDatabase(): Promise<string> {
  // Deliberately not the migrated template: the script must build everything itself.
  const database = await createTestDatabase({ empty: true });
  onTestFinished(() => database.drop());
  return database.url;
}

describe("drizzle/meta/_journal.json", () => {
  test("has strictly increasing `when` (drizzle's migrator silently skips an older one)", () => {
    const whens = JOURNAL.map((entry) => entry.when);
    for (let i = 1; i < whens.length; i++) {
      expect(whens[i], `${JOURNAL[i]?.tag} is not newer than ${JOURNAL[i - 1]?.tag}`).toBeGreaterThan(
        whens[i - 1] ?? Number.POSITIVE_INFINITY,
      );
    }
  });

  test("lists every SQL file of drizzle/, in order", () => {
    expect(JOURNAL.map((entry) => entry.idx)).toEqual(JOURNAL.map((_, index) => index));
    for (const entry of JOURNAL) {
      expect(existsSync(path.join(ROOT, "drizzle", `${entry.tag}.sql`)), `${entry.tag}.sql`).toBe(true);
    }
  });
});

describe("npm run db:migrate", () => {
  test("exits non-zero, naming DATABASE_URL, when it is not a Postgres URL", async () => {
    const result = await runMigrate({ DATABASE_URL: "nonsense" });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("DATABASE_URL");
  });

  test("migrates PGlite in DROPFLOW_DATA_DIR when DATABASE_URL is unset", { timeout: 90_000 }, async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "dropflow-migrate-"));
    onTestFinished(() => rmSync(dataDir, { recursive: true, force: true }));
    const first = await runMigrate({ DROPFLOW_DATA_DIR: dataDir });
    expectSuccess(first);
    expect(first.stdout).toContain(`PGlite in ${path.join(dataDir, "pglite")}`);
    expect(appliedOf(first)).toBe(MIGRATIONS);
    expect(existsSync(path.join(dataDir, "pglite", "PG_VERSION"))).toBe(true);
    // Kept on disk: a second run finds them all applied.
    const second = await runMigrate({ DROPFLOW_DATA_DIR: dataDir });
    expectSuccess(second);
    expect(appliedOf(second)).toBe(0);
  });
});

const server = inject("postgres");

describePostgres(`npm run db:migrate on PostgreSQL ${server.available ? server.version : ""}`, () => {
  test("applies every migration to an empty database, then none", async () => {
    const url = await emptyDatabase();
    const first = await runMigrate({ DATABASE_URL: url });
    expectSuccess(first);
    expect(first.stdout).toContain("pg database");
    expect(appliedOf(first)).toBe(MIGRATIONS);
    const state = await inspect(url);
    expect(state.tables).toEqual(expect.arrayContaining(SCHEMA_TABLES));
    expect(state.migrations).toBe(MIGRATIONS);

    const second = await runMigrate({ DATABASE_URL: url });
    expectSuccess(second);
    expect(appliedOf(second)).toBe(0);
    expect((await inspect(url)).migrations).toBe(MIGRATIONS);
  });

  test("concurrent runs queue on the advisory lock and both succeed", async () => {
    const url = await emptyDatabase();
    // Holding the lock ourselves makes the overlap certain instead of a matter of timing:
    // both runs must be seen waiting for it before either may start.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    onTestFinished(() => holder.end());
    await holder.query("select pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    const runs = Promise.all([runMigrate({ DATABASE_URL: url }), runMigrate({ DATABASE_URL: url })]);
    const waiting = async () => {
      const { rows } = await holder.query<{ n: number }>(
        "select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and objid = $1",
        [MIGRATION_LOCK_KEY],
      );
      return rows[0]?.n;
    };
    await expect.poll(waiting, { timeout: 20_000, interval: 50 }).toBe(2);
    await holder.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
    const results = await runs;
    for (const result of results) expectSuccess(result);
    expect(results.map(appliedOf).sort((a, b) => a - b)).toEqual([0, MIGRATIONS]);
    expect((await inspect(url)).migrations).toBe(MIGRATIONS);
  });
});
