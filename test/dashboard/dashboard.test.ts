/**
 * The dashboard in a real browser: headless Chromium (Debian's, through playwright-core;
 * dev/browser.ts) against the real app (the dev server with its Blob stand-in and queue,
 * on a fresh Postgres; test/support/app-server.ts), which serves public/ as Vercel does.
 * An operator signs in, drops two generated CSV files on the drop zone, watches each
 * file's upload bar and the import's bar reach 100 %, sees the API's counts, downloads
 * the row errors as CSV (fetched with the token in a header, saved from a Blob: the
 * file is checked cell by cell), runs a reconcile and sees its chart hold the API's
 * counts, looks up an invoice and signs out. A failing test leaves a screenshot in
 * test-results/ and prints its path.
 *
 * Without /usr/bin/chromium the suite skips with the loud SKIP_MARKER banner, which CI
 * (.ci/run) fails on: it can never pass by not running.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Papa from "papaparse";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { type HeadlessBrowser, launchChromium, missingChromium } from "../../dev/browser.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { availablePostgres } from "../support/databases.js";
import { skipBanner } from "../support/global-setup.js";
import { importSettled, waitForStatus } from "../support/job-status.js";
import { PURCHASE_HEADER, purchaseRow } from "../support/purchases-csv.js";

const TOKEN = "dashboard-browser-test-token-0123456789";
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const RESULTS_DIR = path.join(ROOT, "test-results");
const STORE = "Toko Test";
/** How long the page may take to show what the API already says (it polls every second; CI machines are busy). */
const WAIT_MS = 30_000;

const noBrowser = missingChromium();
if (noBrowser) process.stderr.write(skipBanner(noBrowser, "Browser (dashboard)"));
const postgres = availablePostgres();

/** Rows that fail (a quantity that is no number) and whose first cell a spreadsheet would take for a formula. */
const FORMULA_STARTS = ["=1+1", "+42", "-7", "@SUM(A1)"];
const badRow = (i: number, start: string) =>
  purchaseRow(i, STORE).replace(/^\d+,/, `${start},`).replace(",25000,2,50000,", ",25000,banyak,50000,");

/** Two files of one import: good orders, and in the first also the formula-looking bad rows. */
function generatedFiles() {
  const first = [PURCHASE_HEADER];
  for (let i = 1; i <= 300; i += 1) first.push(purchaseRow(i, STORE));
  FORMULA_STARTS.forEach((start, index) => first.push(badRow(400 + index, start)));
  const second = [PURCHASE_HEADER];
  for (let i = 1001; i <= 1200; i += 1) second.push(purchaseRow(i, STORE));
  return [
    // A name a spreadsheet would take for a formula, and one that would be markup in innerHTML.
    { name: "=orders+march.csv", mimeType: "text/csv", buffer: Buffer.from(first.join("\r\n")) },
    { name: "<img src=x onerror=alert(1)>.csv", mimeType: "text/csv", buffer: Buffer.from(second.join("\r\n")) },
  ];
}

interface ImportStatus {
  status: string;
  counts: Record<string, number>;
  errors_by_code: Record<string, number>;
  files: Array<{ name: string; status: string }>;
}

describe.skipIf(!postgres || noBrowser)("the dashboard in Chromium", () => {
  let app: AppServer;
  let browser: HeadlessBrowser;
  let page: Page;
  const requestedUrls: string[] = [];
  const dialogs: string[] = [];

  beforeAll(async () => {
    app = await startAppServer(TOKEN, { DROPFLOW_CHUNK_ROWS: "100" }, { simulators: { offers: 50, items: 50 } });
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on("request", (request) => requestedUrls.push(request.url()));
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** On failure: what the page looked like, saved where the run's output says. */
  const screenshotOnFailure = (name: string) =>
    onTestFailed(async () => {
      await mkdir(RESULTS_DIR, { recursive: true });
      const file = path.join(RESULTS_DIR, `dashboard-${name}-${Date.now()}.png`);
      await page.screenshot({ path: file, fullPage: true });
      process.stderr.write(`dashboard test failed: screenshot of the page in ${file}\n`);
    });

  const apiJson = async <T>(route: string): Promise<T> => {
    const answer = await app.api(route);
    expect(answer.status, route).toBe(200);
    return (await answer.json()) as T;
  };
  /** The value of a <progress> as the browser holds it (the attribute reflects it). */
  const barValue = async (selector: string) => Number(await page.locator(selector).getAttribute("value"));

  it("imports dropped files, shows the API's counts, downloads the errors safely, reconciles with a chart and looks up an invoice", async () => {
    screenshotOnFailure("operator-flow");

    // Sign in: the token goes to sessionStorage only.
    await page.goto(`${app.base}/`);
    await page.getByLabel("API token").fill(TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator("#view-imports").isVisible(), { timeout: WAIT_MS }).toBe(true);
    expect(await page.evaluate("sessionStorage.getItem('dropflow.apiToken')")).toBe(TOKEN);
    expect(await page.evaluate("localStorage.length")).toBe(0);

    // Drop two files (the drop zone's own file input); no reconcile after, it is run by hand below.
    await page.getByLabel("Reconcile what the import touched when it ends").uncheck();
    await page.locator("#upload-files").setInputFiles(generatedFiles());
    await page.waitForURL(/#imports\/[0-9a-f-]{36}$/, { timeout: 60_000 });
    const importId = /[0-9a-f-]{36}$/.exec(page.url())?.[0] as string;

    // Each file's upload bar reached 100 % and says so in words.
    const uploads = page.locator("#upload-list li");
    expect(await uploads.count()).toBe(2);
    for (const index of [0, 1]) {
      expect(await barValue(`#upload-list li:nth-child(${index + 1}) progress`)).toBe(100);
      expect(await uploads.nth(index).locator(".upload-state").textContent()).toContain("uploaded");
    }

    // The import's bar reaches 100 % once the import has ended; the page shows the API's counts.
    const final = await waitForStatus(() => apiJson<ImportStatus>(`/api/imports/${importId}`), {
      until: importSettled,
      timeoutMs: 60_000,
      what: "the import to end",
    });
    expect(final.status).toBe("completed_with_errors");
    await expect.poll(() => page.locator("#import-detail .job-status [data-status]").getAttribute("data-status"), { timeout: WAIT_MS }).toBe(final.status);
    await expect.poll(() => barValue("#import-detail .progress progress"), { timeout: WAIT_MS }).toBe(100);
    expect(await page.locator("#import-detail .progress-text").textContent()).toMatch(/^100 % · /);
    const shown = Object.fromEntries(
      await page.locator("#import-detail [data-part=counts] [data-key]").evaluateAll(
        (nodes) => nodes.map((node) => [node.getAttribute("data-key"), node.querySelector("dd")?.textContent]) as Array<[string, string]>,
      ),
    );
    const expected = Object.fromEntries(
      Object.entries(final.counts)
        .filter(([name, value]) => value !== 0 || name === "rows" || name === "row_errors")
        .map(([name, value]) => [name, value.toLocaleString("en-US")]),
    );
    expect(shown).toEqual(expected);
    expect(final.counts.rows).toBe(300 + FORMULA_STARTS.length + 200);
    expect(final.counts.row_errors).toBe(FORMULA_STARTS.length);

    // File names are text, never markup: no <img> was made, no script ran.
    const fileCells = await page.locator("#import-detail table").first().locator("tbody th").allTextContents();
    expect(fileCells).toEqual(["=orders+march.csv", "<img src=x onerror=alert(1)>.csv"]);
    expect(await page.locator("#import-detail img").count()).toBe(0);
    expect(dialogs).toEqual([]);

    // The errors download: fetched with the token in a header and saved from a Blob.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "CSV of all errors" }).click(),
    ]);
    expect(download.url()).toMatch(/^blob:/);
    expect(download.suggestedFilename()).toBe(`import-${importId}-errors.csv`);
    const csv = (await readFile(await download.path(), "utf8")).replace(/^\uFEFF/, "");
    const parsed = Papa.parse<string[]>(csv, { skipEmptyLines: true });
    expect(parsed.errors).toEqual([]);
    const [header, ...records] = parsed.data;
    expect(header).toEqual(["file", "line", "column", "code", "message", "raw", "sheet", "cell"]);
    const errorCount = Object.values(final.errors_by_code).reduce((sum, n) => sum + n, 0);
    expect(records).toHaveLength(errorCount);
    // No cell opens as a formula: each one that would starts with the neutralising quote.
    for (const cell of records.flat()) expect(cell, cell).not.toMatch(/^\s*[=+\-@\t\r]/);
    const raws = records.map((record) => record[5]);
    for (const start of FORMULA_STARTS) expect(raws.some((raw) => raw?.startsWith(`'${start},`)), start).toBe(true);
    expect(records.every((record) => record[0] === "'=orders+march.csv")).toBe(true);

    // A reconcile started from the page: its chart holds the API's counts per outcome.
    await page.getByRole("link", { name: "Reconcile" }).click();
    await page.getByRole("button", { name: "Run reconcile" }).click();
    await page.waitForURL(/#reconcile\/[0-9a-f-]{36}$/, { timeout: 30_000 });
    const runId = /[0-9a-f-]{36}$/.exec(page.url())?.[0] as string;
    const run = await waitForStatus(() => apiJson<{ status: string; counts: Record<string, number> }>(`/api/reconcile/${runId}`), {
      timeoutMs: 60_000,
      what: "the reconcile run to end",
    });
    expect(run.status).toBe("completed");
    const chartData = () =>
      page.evaluate(`(() => {
        const chart = Chart.getChart(document.querySelector("#reconcile-detail canvas[data-chart=outcome-counts]"));
        return chart ? { labels: chart.data.labels, data: chart.data.datasets[0].data, drawn: chart.width > 0 && chart.height > 0 } : null;
      })()`);
    const words = (code: string) => code.charAt(0).toUpperCase() + code.slice(1).replaceAll("_", " ");
    await expect
      .poll(chartData, { timeout: WAIT_MS })
      .toEqual({ labels: Object.keys(run.counts).map(words), data: Object.values(run.counts), drawn: true });
    expect(Object.values(run.counts).reduce((sum, n) => sum + n, 0)).toBe(500);
    await expect.poll(() => page.locator("#reconcile-detail .job-status [data-status]").getAttribute("data-status"), { timeout: WAIT_MS }).toBe("completed");

    // The invoice lookup, as the API answers it.
    const invoice = "INV000000001UP";
    const found = await apiJson<{ store: string; outcome: { outcome: string } }>(`/api/invoices/${invoice}`);
    await page.getByRole("link", { name: "Invoices" }).click();
    await page.getByLabel("Invoice (marketplace order number)").fill(invoice);
    await page.getByRole("button", { name: "Look up" }).click();
    await expect.poll(() => page.locator("#invoice-result h3").textContent(), { timeout: WAIT_MS }).toBe(`Invoice ${invoice}`);
    const facts = await page.locator("#invoice-result .facts").first().innerText();
    expect(facts).toContain(found.store);
    expect(facts).toContain(words(found.outcome.outcome));

    // The token never went into an address the page asked for.
    expect(requestedUrls.length).toBeGreaterThan(10);
    expect(requestedUrls.filter((url) => url.includes(TOKEN))).toEqual([]);

    // Sign out forgets the token and shows the sign-in form again.
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect.poll(() => page.locator("#sign-in").isVisible(), { timeout: WAIT_MS }).toBe(true);
    await page.waitForLoadState("load");
    expect(await page.evaluate("sessionStorage.getItem('dropflow.apiToken')")).toBeNull();
    expect(await page.locator("#app").isVisible()).toBe(false);
  }, 180_000);

  it("sends a file above the multipart threshold in parts, with progress, through the page's uploader", async () => {
    screenshotOnFailure("multipart");
    await page.goto(`${app.base}/`);
    await page.evaluate(`sessionStorage.setItem("dropflow.apiToken", ${JSON.stringify(TOKEN)})`);
    await page.reload();
    const before = app.server.blob?.stats().requests ?? 0;
    // 65 MiB made in the page, uploaded by the module the drop zone uses (upload.js), not imported.
    const result = (await page.evaluate(`(async () => {
      const { prepareBlobClient, uploadFile, MULTIPART_FROM_BYTES } = await import("/app/views/upload.js");
      await prepareBlobClient();
      const line = "x".repeat(1023) + "\\n";
      const file = new File([line.repeat(Math.ceil((MULTIPART_FROM_BYTES + 1024 * 1024) / 1024))], "big export.csv", { type: "text/csv" });
      const seen = [];
      const stored = await uploadFile(file, (percent) => seen.push(percent));
      return { stored, size: file.size, seen };
    })()`)) as { stored: { key: string; name: string }; size: number; seen: number[] };
    expect(result.stored.name).toBe("big export.csv");
    expect(result.stored.key).toMatch(/^imports\/[0-9a-f-]{36}\/big_export\.csv$/);
    // Several progress reports on the way to 100 %, and the bytes whole in storage.
    expect(result.seen.at(-1)).toBe(100);
    expect(new Set(result.seen.map(Math.floor)).size).toBeGreaterThan(2);
    const stored = await app.server.runtime.objectStore().head(result.stored.key);
    expect(stored?.size).toBe(result.size);
    // Create, nine 8 MiB parts, complete: far more calls of the Blob API than one put.
    expect((app.server.blob?.stats().requests ?? 0) - before).toBeGreaterThanOrEqual(11);
  }, 120_000);
});
