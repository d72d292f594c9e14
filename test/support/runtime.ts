import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../lib/config.js";
import { configureLogging } from "../../lib/log/index.js";
import { createRuntime, installRuntime, type Runtime } from "../../lib/runtime.js";

export const API_TOKEN = "test-token-0123456789abcdef";
export const OTHER_API_TOKEN = "rotated-token-fedcba9876543210";
export const CRON_SECRET = "cron-secret-0123456789abcdef";

/**
 * Installs a runtime for in-process route tests: its own temporary data directory,
 * two API tokens (rotation) and a cron secret. Logs go nowhere unless a test adds a sink.
 */
export function installTestRuntime(env: Record<string, string> = {}): { runtime: Runtime; dispose(): Promise<void> } {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "dropflow-test-"));
  const runtime = createRuntime(
    loadConfig({
      DROPFLOW_DATA_DIR: dataDir,
      DROPFLOW_API_TOKENS: `${API_TOKEN},${OTHER_API_TOKEN}`,
      CRON_SECRET,
      LOG_LEVEL: "debug",
      ...env,
    }),
  );
  configureLogging({ ...runtime.config.log, stdout: false });
  const previous = installRuntime(runtime);
  return {
    runtime,
    async dispose() {
      await runtime.close();
      installRuntime(previous);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
