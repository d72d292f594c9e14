/**
 * Alerts out: a failure storm (100 chunks failing within a second) posts a handful of
 * Slack-compatible messages to ALERT_WEBHOOK_URL, and then one summary of what was
 * held back, never one per failure.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listenOn } from "../../dev/servers/listen.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { waitForStatus } from "../support/job-status.js";

const API_TOKEN = "alerts-api-test-token-0123456789";
let app: AppServer;
let receiver: Server;
const received: Array<{ text: string }> = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      received.push(JSON.parse(body) as { text: string });
      res.writeHead(200).end("ok");
    });
  });
  const port = await listenOn(receiver, 0, "127.0.0.1");
  app = await startAppServer(
    API_TOKEN,
    { ALERT_WEBHOOK_URL: `http://127.0.0.1:${port}/hook`, DROPFLOW_ALERT_WINDOW_S: "3", DROPFLOW_TEST_JOB_KINDS: "1" },
    { simulators: false, watchdog: false },
  );
}, 60_000);
afterAll(async () => {
  await app?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

describe("alerts out", () => {
  it("a storm of 100 failed chunks sends a few messages, then a summary of the rest", async () => {
    const chunks = 100;
    const created = await app.api("/api/jobs", {
      method: "POST",
      body: JSON.stringify({ kind: "test-rows", params: { chunks, rows_per_chunk: 1, offset: 0, fail_chunks: Array.from({ length: chunks }, (_, i) => i) } }),
    });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    const job = await waitForStatus(async () => (await (await app.api(`/api/jobs/${id}`)).json()) as { status: string }, { timeoutMs: 30_000 });
    expect(job.status).toBe("failed");
    await new Promise((resolve) => setTimeout(resolve, 500));
    const beforeSummary = received.length;
    expect(beforeSummary).toBeGreaterThanOrEqual(1);
    expect(beforeSummary).toBeLessThanOrEqual(4);
    expect(received[0]?.text).toMatch(/^dropflow: /);
    // A slot frees after a third of the window: the watchdog's summary says what was held back.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await app.server.watchdogNow();
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(beforeSummary + 1);
    expect(received.at(-1)?.text).toMatch(/(\d+) alerts? held back/);
    // Every failure was an alert: sent, or counted as held back in a later message
    // (the chunks, the job's end, and the errors logged around them).
    const heldBack = received.reduce((sum, message) => sum + Number(/(\d+) (?:more )?alerts? held back/.exec(message.text)?.[1] ?? 0), 0);
    expect(heldBack + beforeSummary).toBeGreaterThanOrEqual(chunks);
    expect(received.length).toBeLessThanOrEqual(5);
  });
});
