/**
 * `npm run screenshots`: pictures of the dashboard's main views for docs/screenshots/,
 * at 1280x800 and at a 375-pixel-wide phone, taken with headless Chromium (dev/browser.ts).
 * Starts the whole app on embedded defaults in a temporary data directory with the
 * built-in eMAG and SAP simulators, generates a seller's exports (dev/generate), and
 * then does everything through the dashboard itself, as an operator would: drops the
 * purchase files and each store's settlement reports on the drop zone, runs a
 * reconcile, starts syncs, opens the margin report and looks up an invoice.
 *
 *   npm run screenshots -- [--rows 20000] [--out docs/screenshots]
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Page } from "playwright-core";
import { launchChromium, missingChromium } from "./browser.js";
import { generate } from "./generate/run.js";
import { embeddedEnvironment, startDevServer } from "./server.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "20000" },
    out: { type: "string", default: path.join(ROOT, "docs", "screenshots") },
  },
});
const say = (text: string) => process.stdout.write(`${text}\n`);

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 812 };
/** Long pages are cut at this many CSS pixels: the top of a view is what the picture is for. */
const MAX_HEIGHT = { desktop: 1800, phone: 2400 };
/** Statuses a job is still going in. */
const ACTIVE = ["queued", "planning", "running"];

async function main(): Promise<void> {
  const missing = missingChromium();
  if (missing) throw new Error(`npm run screenshots needs a browser: ${missing}`);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "dropflow-screenshots-"));
  const out = path.resolve(String(values.out));
  await mkdir(out, { recursive: true });
  const server = await startDevServer({
    env: embeddedEnvironment(dataDir),
    simulators: { offers: 600, items: 800 },
  });
  const browser = await launchChromium(DESKTOP);
  try {
    say(`dev server ${server.url}, data in ${dataDir}`);
    const generated = path.join(dataDir, "generated");
    const summary = await generate({
      rows: Number(values.rows),
      files: 6,
      seed: "7",
      badRate: 0.01,
      out: generated,
      stores: 4,
      settlements: true,
      force: true,
    });
    const token = server.runtime.apiTokens[0] as string;
    const base = server.url.replace("localhost", "127.0.0.1");
    const api = async <T>(route: string): Promise<T> => {
      const answer = await fetch(`${base}${route}`, { headers: { authorization: `Bearer ${token}` } });
      if (!answer.ok) throw new Error(`GET ${route} answered ${answer.status}: ${await answer.text()}`);
      return (await answer.json()) as T;
    };
    /** Until nothing runs any more: every import, reconcile and sync the page started has ended. */
    const settle = async () => {
      for (;;) {
        const { jobs } = await api<{ jobs: Array<{ status: string }> }>("/api/jobs?limit=50");
        if (!jobs.some((job) => ACTIVE.includes(job.status))) return;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };

    const page = await browser.context.newPage();
    await page.goto(server.url);
    await page.getByLabel("API token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#view-imports").waitFor();

    say("importing the purchases through the drop zone");
    await page.getByLabel("Reconcile what the import touched when it ends").uncheck();
    const purchases = summary.files.filter((file) => file.file_type === "purchases").map((file) => path.join(generated, file.name));
    await dropFiles(page, purchases);
    await settle();

    say("importing each store's settlement reports");
    await page.getByLabel("Marketplace settlements (Shopee income reports)").check();
    const byStore = new Map<string, string[]>();
    for (const file of summary.files.filter((entry) => entry.file_type === "settlements")) {
      const store = file.store as string;
      byStore.set(store, [...(byStore.get(store) ?? []), path.join(generated, file.name)]);
    }
    for (const [store, files] of byStore) {
      await page.locator("#upload-store").fill(store);
      await dropFiles(page, files);
      await settle();
    }

    say("reconciling from the Reconcile view");
    await page.getByRole("link", { name: "Reconcile" }).click();
    await page.getByRole("button", { name: "Run reconcile" }).click();
    await page.waitForURL(/#reconcile\/.+/);
    await settle();

    say("syncing SAP and eMAG from the Sync view (eMAG paces itself at 3 requests a second)");
    await page.getByRole("link", { name: "Sync" }).click();
    for (const button of ["Sync SAP (full)", "Sync eMAG (full)", "Sync SAP (changes)"]) {
      await page.getByRole("button", { name: button }).click();
      await page.locator("#sync-message", { hasText: "started" }).waitFor();
      await settle();
    }

    const [purchaseImport] = (await api<{ imports: Array<{ id: string }> }>("/api/imports?limit=1&status=completed_with_errors")).imports;
    const [run] = (await api<{ runs: Array<{ id: string }> }>("/api/reconcile?limit=1")).runs;
    const [invoice] = (
      await api<{ results: Array<{ invoice: string; store: string }> }>(`/api/reconcile/${run?.id}/results?outcome=amount_mismatch&limit=1`)
    ).results;
    // The views to picture, and what each waits for before its picture is taken.
    const views = [
      { name: "imports", hash: `#imports/${purchaseImport?.id ?? ""}`, ready: "#import-detail .facts" },
      { name: "reconcile", hash: `#reconcile/${run?.id ?? ""}`, ready: "#reconcile-detail table" },
      { name: "margin", hash: "#margin", ready: "#margin-table table" },
      { name: "sync", hash: "#sync", ready: "#sync-sap table" },
      ...(invoice
        ? [{ name: "invoice", hash: `#invoices?${new URLSearchParams({ invoice: invoice.invoice, store: invoice.store })}`, ready: "#invoice-result h3" }]
        : []),
    ];

    for (const [device, viewport] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
      await page.setViewportSize(viewport);
      for (const view of views) {
        await page.goto(`${server.url}/${view.hash}`);
        await page.locator(view.ready).first().waitFor();
        // The charts and tables are drawn from the same answer; give the polling one round to settle.
        await page.waitForTimeout(1200);
        // No focus ring in the picture (a view focuses its heading when it opens).
        await page.evaluate("document.activeElement?.blur()");
        const height = Math.min((await page.evaluate("document.documentElement.scrollHeight")) as number, MAX_HEIGHT[device]);
        const file = path.join(out, `${view.name}-${device}.png`);
        await page.screenshot({ path: file, fullPage: true, clip: { x: 0, y: 0, width: viewport.width, height } });
        say(`  ${path.relative(ROOT, file)}`);
      }
    }
  } finally {
    await browser.close();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Hands `files` to the drop zone's file input, then waits for the import they start to be created. */
async function dropFiles(page: Page, files: string[]): Promise<void> {
  const before = page.url();
  await page.locator("#upload-files").setInputFiles(files);
  await page.waitForURL((url) => url.href !== before && /#imports\/[0-9a-f-]{36}$/.test(url.href), { timeout: 120_000 });
}

await main();
