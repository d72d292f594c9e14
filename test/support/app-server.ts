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
  /** `fetch` of a path on the app as the first token's client, JSON by default (`init.headers` win). */
  api(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface AppServerOptions {
  /** Scales the embedded queue's backoffs and delays; default 0.001. */
  queueTimeScale?: number;
  /** Where uploads and blobs go; by default a directory of its own, removed at close. */
  dataDir?: string;
  /** Run the watchdog on a timer (default: on); off where nothing may re-publish behind a suite's back. */
  watchdog?: boolean;
  /** The eMAG and SAP simulators' sizes (default: small, 200 offers and 200 items); false: none. */
  simulators?: { offers?: number; items?: number; seed?: number } | false;
}

/** `tokens`: the API token the server accepts, or several (each its own client). */
export async function startAppServer(
  tokens: string | readonly string[],
  env: Record<string, string> = {},
  options: AppServerOptions = {},
): Promise<AppServer> {
  const clients = typeof tokens === "string" ? [tokens] : tokens;
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
        DROPFLOW_API_TOKENS: clients.join(","),
        LOG_LEVEL: "warn",
        PORT: "0",
        ...env,
      },
      queueTimeScale: options.queueTimeScale ?? 0.001,
      watchdog: options.watchdog,
      simulators: options.simulators ?? { offers: 200, items: 200 },
    });
    // Points the Blob SDK (VERCEL_BLOB_API_URL) at the embedded stand-in, for client upload() too.
    server.runtime.objectStore();
    const base = server.url.replace("localhost", "127.0.0.1");
    const bearer = `Bearer ${clients[0]}`;
    return {
      server,
      base,
      api: (route, init = {}) =>
        fetch(`${base}${route}`, {
          ...init,
          headers: { authorization: bearer, "content-type": "application/json", ...init.headers },
        }),
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
