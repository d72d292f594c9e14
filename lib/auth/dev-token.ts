/**
 * Outside production, a missing DROPFLOW_API_TOKENS gets a generated token, stored
 * under the data directory so it survives restarts and each data directory has its own.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export const DEV_TOKEN_FILE = "api-token";

export interface DevToken {
  token: string;
  file: string;
  created: boolean;
}

export function ensureDevApiToken(dataDir: string): DevToken {
  const file = path.join(dataDir, DEV_TOKEN_FILE);
  try {
    const token = readFileSync(file, "utf8").trim();
    if (token.length >= 16) return { token, file, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const token = `dfdev_${randomBytes(24).toString("base64url")}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, file, created: true };
}
