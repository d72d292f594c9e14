/**
 * Headless Chromium for the dashboard's browser test (test/dashboard/) and
 * `npm run screenshots`: Debian's `chromium` driven by playwright-core, a fresh
 * profile directory per launch (removed at close), and none of the browser's own
 * background traffic (updates, sync, QUIC).
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Why there is no browser to run, or null when there is one. */
export function missingChromium(): string | null {
  return existsSync(CHROMIUM_PATH) ? null : `no Chromium at ${CHROMIUM_PATH} (Debian: apt-get install chromium)`;
}

export interface HeadlessBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A browser with a fresh profile; pages open at `viewport` (CSS pixels). */
export async function launchChromium(viewport = { width: 1280, height: 800 }): Promise<HeadlessBrowser> {
  const profile = await mkdtemp(path.join(os.tmpdir(), "dropflow-chromium-"));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport,
      acceptDownloads: true,
      locale: "en-US",
      timezoneId: "Asia/Jakarta",
    });
    return {
      context,
      close: async () => {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
}
