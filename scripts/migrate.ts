/**
 * `npm run db:migrate`: applies drizzle/ to the configured database (DATABASE_URL via
 * node-postgres or Neon, else the embedded PGlite under DROPFLOW_DATA_DIR). On Vercel
 * it is the build step (`vercel-build`), so a deploy never serves an unmigrated schema.
 */
import { ConfigError, loadConfig } from "../lib/config.js";
import { openDatabase } from "../lib/db/client.js";
import { DataDirInUseError } from "../lib/db/data-dir-lock.js";
import { MIGRATIONS_DIR, migrateDatabase } from "../lib/db/migrate.js";

async function main(): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(undefined, { serving: false });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`db:migrate: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const target =
    config.database.driver === "pglite" ? `PGlite in ${config.database.dataDir}` : `${config.database.driver} database`;
  let handle: Awaited<ReturnType<typeof openDatabase>>;
  try {
    handle = await openDatabase(config.database, { maxConnections: 1 });
  } catch (error) {
    if (error instanceof DataDirInUseError) {
      process.stderr.write(`db:migrate: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  try {
    const result = await migrateDatabase(handle);
    process.stdout.write(
      `db:migrate: ${target}: applied ${result.applied} migration(s), ${result.total} in all (from ${MIGRATIONS_DIR})\n`,
    );
    return 0;
  } finally {
    await handle.close();
  }
}

process.exitCode = await main();
