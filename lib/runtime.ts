/**
 * The process-wide dependencies every route shares: validated config, resolved API
 * tokens and the database. Built lazily on the first request (a Vercel function has
 * no start-up hook) or eagerly by the dev server, which installs its own.
 */
import { ensureDevApiToken } from "./auth/dev-token.js";
import { type Config, getConfig } from "./config.js";
import { type DatabaseHandle, openDatabase } from "./db/client.js";
import { migrateDatabase } from "./db/migrate.js";
import { configureLogging, logger } from "./log/index.js";

export interface Runtime {
  readonly config: Config;
  /** Accepted API tokens: the configured ones, or outside production the generated dev token. */
  readonly apiTokens: readonly string[];
  /** Where the generated dev token is stored, when one is in use. */
  readonly devTokenFile: string | null;
  database(): Promise<DatabaseHandle>;
  close(): Promise<void>;
}

const log = logger("runtime");

export function createRuntime(config: Config): Runtime {
  configureLogging(config.log);
  let apiTokens = config.apiTokens;
  let devTokenFile: string | null = null;
  if (apiTokens.length === 0 && !config.production) {
    const dev = ensureDevApiToken(config.dataDir);
    apiTokens = [dev.token];
    devTokenFile = dev.file;
  }

  let opening: Promise<DatabaseHandle> | undefined;
  const database = () => {
    opening ??= (async () => {
      const handle = await openDatabase(config.database, {
        maxConnections: config.onVercel ? 3 : 10,
        attachToVercel: config.onVercel,
      });
      // The embedded database migrates itself; shared ones migrate in a deploy step.
      if (handle.driver === "pglite") {
        const result = await migrateDatabase(handle);
        if (result.applied > 0) log.info("migrated embedded database", { applied: result.applied });
      }
      return handle;
    })();
    // A failed open (e.g. the data directory is locked) is retried on the next call.
    opening.catch(() => {
      opening = undefined;
    });
    return opening;
  };

  return {
    config,
    apiTokens,
    devTokenFile,
    database,
    async close() {
      const pending = opening;
      opening = undefined;
      if (pending) await (await pending.catch(() => null))?.close();
    },
  };
}

let current: Runtime | undefined;

/** The process's runtime, created from the environment on first use. */
export function getRuntime(): Runtime {
  current ??= createRuntime(getConfig());
  return current;
}

/** Installs a runtime built elsewhere (the dev server, tests). Returns the previous one. */
export function installRuntime(runtime: Runtime | undefined): Runtime | undefined {
  const previous = current;
  current = runtime;
  return previous;
}
