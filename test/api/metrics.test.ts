/**
 * GET /api/metrics end to end on the dev server in process: its own bearer, and
 * counters that equal the database's counts after jobs ran, unmoved by a chunk
 * delivered again.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryRows } from "../../lib/db/client.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { waitForStatus } from "../support/job-status.js";

const API_TOKEN = "metrics-api-test-token-0123456789";
const METRICS_TOKEN = "metrics-scrape-token-0123456789";
const CRON_SECRET = "metrics-cron-secret-0123456789";
let app: AppServer;

beforeAll(async () => {
  app = await startAppServer(API_TOKEN, { METRICS_TOKEN, CRON_SECRET, DROPFLOW_TEST_JOB_KINDS: "1" }, { simulators: false });
}, 60_000);
afterAll(() => app?.close());

const scrape = (authorization?: string) =>
  fetch(`${app.base}/api/metrics`, { headers: authorization === undefined ? {} : { authorization } });

/** The value of one series in the exposition, 0 when absent. */
function seriesValue(body: string, series: string): number {
  const line = body.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function runJob(params: Record<string, unknown>): Promise<{ id: string; status: string }> {
  const created = await app.api("/api/jobs", { method: "POST", body: JSON.stringify({ kind: "test-rows", params }) });
  expect(created.status).toBe(202);
  const { id } = (await created.json()) as { id: string };
  return waitForStatus(async () => (await (await app.api(`/api/jobs/${id}`)).json()) as { id: string; status: string }, { timeoutMs: 30_000 });
}

describe("GET /api/metrics", () => {
  it("needs its own bearer: none, a wrong one, the API token and the cron secret get 401", async () => {
    for (const authorization of [undefined, "Bearer wrong-token-0123456789abcdef", `Bearer ${API_TOKEN}`, `Bearer ${CRON_SECRET}`]) {
      expect((await scrape(authorization)).status).toBe(401);
    }
    const response = await scrape(`Bearer ${METRICS_TOKEN}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain; version=0.0.4");
  });

  it("GET /api/logs needs the API token: none, a wrong one, the metrics token and the cron secret get 401", async () => {
    for (const authorization of [undefined, "Bearer wrong-token-0123456789abcdef", `Bearer ${METRICS_TOKEN}`, `Bearer ${CRON_SECRET}`]) {
      const response = await fetch(`${app.base}/api/logs`, { headers: authorization === undefined ? {} : { authorization } });
      expect(response.status).toBe(401);
    }
    expect((await app.api("/api/logs?level=warn")).status).toBe(200);
    expect((await app.api("/api/logs?cursor=bm9wZQ")).status).toBe(400);
    expect((await app.api("/api/logs?since=yesterday")).status).toBe(400);
  });

  it("counts equal the database's after jobs ran, and a chunk delivered again moves nothing", async () => {
    const done = await runJob({ chunks: 6, rows_per_chunk: 5, offset: 0 });
    const failing = await runJob({ chunks: 4, rows_per_chunk: 5, offset: 1000, fail_chunks: [1] });
    expect(done.status).toBe("completed");
    expect(failing.status).toBe("completed_with_errors");
    const read = async () => (await (await scrape(`Bearer ${METRICS_TOKEN}`)).text());
    await expect.poll(async () => seriesValue(await read(), 'dropflow_jobs_finished_total{kind="test-rows",status="completed_with_errors"}')).toBe(1);
    const body = await read();
    const { db } = await app.server.runtime.database();
    const [chunks] = await queryRows<{ done: number; failed: number; rows: number }>(
      db,
      sql`select count(*) filter (where c.status = 'done')::int as done, count(*) filter (where c.status = 'failed')::int as failed,
                 coalesce(sum(c.rows_done), 0)::int as rows
          from job_chunks c join jobs j on j.id = c.job_id where j.kind = 'test-rows'`,
    );
    expect(seriesValue(body, 'dropflow_chunks_total{kind="test-rows",outcome="done"}')).toBe(chunks?.done);
    expect(seriesValue(body, 'dropflow_chunks_total{kind="test-rows",outcome="failed"}')).toBe(chunks?.failed);
    expect(seriesValue(body, 'dropflow_rows_total{kind="test-rows",outcome="processed"}')).toBe(chunks?.rows);
    expect(seriesValue(body, 'dropflow_jobs_finished_total{kind="test-rows",status="completed"}')).toBe(1);
    expect(seriesValue(body, 'dropflow_chunk_duration_seconds_count{kind="test-rows"}')).toBe(chunks?.done);
    expect(seriesValue(body, 'dropflow_http_requests_total{route="createJob",method="POST",status="202"}')).toBe(2);
    expect(seriesValue(body, 'dropflow_queue_deliveries_total{task="chunk",outcome="completed"}')).toBeGreaterThanOrEqual(chunks?.done ?? 0);
    expect(body).toMatch(/dropflow_last_success_timestamp_seconds\{pipeline="test-rows",source="all"\} \d{10}/);

    // The same chunk delivered again: answered, counted as a delivery, and nothing else moves.
    const engine = await app.server.runtime.engine();
    expect(["already_done", "job_finished"]).toContain(await engine.handleChunk(done.id, 0, { messageId: "again", retried: 0 }));
    const after = await read();
    for (const series of [
      'dropflow_chunks_total{kind="test-rows",outcome="done"}',
      'dropflow_rows_total{kind="test-rows",outcome="processed"}',
      'dropflow_jobs_finished_total{kind="test-rows",status="completed"}',
    ]) {
      expect(seriesValue(after, series), series).toBe(seriesValue(body, series));
    }
  });
});
