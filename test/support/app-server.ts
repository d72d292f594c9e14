/**
 * The whole app in process for a suite: the dev server (embedded queue and Blob
 * stand-ins) on a fresh Postgres database cloned from the migrated template.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type DevServer, startDevServer } from "../../dev/server.js";
import { createTestDatabase } from "./databases.js";

export interface AppServer {
  server: DevServer;
  /** http://127.0.0.1:<port> (no name lookup). */
  base: string;
  close(): Promise<void>;
}

export async function startAppServer(
  token: string,
  env: Record<string, string> = {},
  options: { queueTimeScale?: number; dataDir?: string } = {},
): Promise<AppServer> {
  const database = await createTestDatabase();
  // A directory made here (uploads land under it) goes with the server; a caller's stays.
  const ownDir = options.dataDir === undefined ? mkdtempSync(path.join(os.tmpdir(), "dropflow-app-")) : null;
  const removeOwnDir = () => {
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
  };
  try {
    const server = await startDevServer({
      env: {
        DATABASE_URL: database.url,
        DROPFLOW_DATA_DIR: options.dataDir ?? (ownDir as string),
        DROPFLOW_API_TOKENS: token,
        LOG_LEVEL: "warn",
        PORT: "0",
        ...env,
      },
      queueTimeScale: options.queueTimeScale ?? 0.001,
    });
    // Points the Blob SDK (VERCEL_BLOB_API_URL) at the embedded stand-in, for client upload() too.
    server.runtime.objectStore();
    return {
      server,
      base: server.url.replace("localhost", "127.0.0.1"),
      close: async () => {
        await server.close();
        await database.drop();
        removeOwnDir();
      },
    };
  } catch (error) {
    await database.drop();
    removeOwnDir();
    throw error;
  }
}
