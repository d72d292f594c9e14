/**
 * Outside production, a missing DROPFLOW_API_TOKENS (or DROPFLOW_WEBHOOK_SECRET) gets a
 * generated secret, stored under the data directory so it survives restarts and each
 * data directory has its own.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export const DEV_TOKEN_FILE = "api-token";
export const DEV_WEBHOOK_SECRET_FILE = "webhook-secret";

export interface DevToken {
  token: string;
  file: string;
  created: boolean;
}

export function ensureDevApiToken(dataDir: string): DevToken {
  return ensureDevSecret(dataDir, DEV_TOKEN_FILE, "dfdev_");
}

/** The development webhook secret; receivers under test read it from the file. */
export function ensureDevWebhookSecret(dataDir: string): DevToken {
  return ensureDevSecret(dataDir, DEV_WEBHOOK_SECRET_FILE, "dfwhsec_");
}

function ensureDevSecret(dataDir: string, name: string, prefix: string): DevToken {
  const file = path.join(dataDir, name);
  const existing = readSecret(file);
  if (existing !== null) return { token: existing, file, created: false };
  mkdirSync(dataDir, { recursive: true });
  const token = `${prefix}${randomBytes(24).toString("base64url")}`;
  try {
    // Exclusive create: two processes on one data directory (local services' workers)
    // must end up with the same secret, so the one that loses the race reads the winner's.
    writeFileSync(file, `${token}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const winner = readSecret(file);
    if (winner !== null) return { token: winner, file, created: false };
    // A file too short to be a secret (truncated, hand-edited): replace it.
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
  }
  return { token, file, created: true };
}

function readSecret(file: string): string | null {
  try {
    const token = readFileSync(file, "utf8").trim();
    return token.length >= 16 ? token : null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    return null;
  }
}
