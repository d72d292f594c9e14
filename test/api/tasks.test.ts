/**
 * The queue routes (api/tasks/<type>, api/tasks/failure) have one way in: a valid
 * Upstash-Signature over the raw body, issued for this deployment's URL. Forged,
 * expired, mis-addressed and tampered deliveries answer 401 and touch nothing (the
 * chunk stays pending, never claimed, no row written); a delivery signed with the
 * dev server's embedded queue keys is processed. The dev server runs in process on
 * a fresh real Postgres, its queue held so that only this suite's requests arrive.
 */
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bodyHash, signClaims, signDelivery } from "../../dev/qstash/signature.js";
import type { DevServer } from "../../dev/server.js";
import { queryRows } from "../../lib/db/client.js";
import type { JobEngine, JobRow } from "../../lib/jobs/index.js";
import { configureLogging } from "../../lib/log/index.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { describePostgres } from "../support/databases.js";
import { waitForStatus } from "../support/job-status.js";

const ROWS_PER_CHUNK = 5;
const CHUNKS = 4;

type ChunkState = {
  chunk: number;
  status: string;
  attempts: number;
  error: string | null;
};

describePostgres("queue routes", () => {
  let app: AppServer;
  let server: DevServer;
  let engine: JobEngine;
  let base: string;
  let signingKey: string;
  let job: JobRow;

  beforeAll(async () => {
    app = await startAppServer(
      "tasks-test-token-0123456789",
      { DROPFLOW_TEST_JOB_KINDS: "1" },
      // Nothing may re-publish or fail the held chunks behind the suite's back.
      { queueTimeScale: 0.0002, watchdog: false },
    );
    server = app.server;
    configureLogging({ level: "warn", format: "json", stdout: false });
    base = app.base;
    if (!server.queue) throw new Error("the dev server embeds no queue");
    signingKey = server.queue.currentSigningKey;
    engine = await server.runtime.engine();

    // Plan the job directly while the queue holds every delivery: its chunks are
    // published (and held), pending in job_chunks, and claimable in the job store.
    server.queue.pause();
    job = await engine.createJob("test-rows", { chunks: CHUNKS, rows_per_chunk: ROWS_PER_CHUNK }, "tasks-test");
    expect(await engine.handlePlan(job.id)).toBe("planned");
  });

  afterAll(() => app?.close());

  const db = async () => (await server.runtime.database()).db;

  async function chunks(): Promise<ChunkState[]> {
    return queryRows<ChunkState>(
      await db(),
      sql`select chunk, status, attempts, error from job_chunks where job_id = ${job.id} order by chunk`,
    );
  }
  async function rowsWritten(): Promise<number> {
    const [row] = await queryRows<{ n: number }>(
      await db(),
      sql`select count(*)::int as n from engine_test_rows where job_seq = ${job.seq}`,
    );
    return row?.n ?? 0;
  }

  const chunkTask = (chunk: number) =>
    JSON.stringify({ type: "chunk", payload: { job_id: job.id, chunk }, correlation_id: "tasks-test" });
  const failureCallback = (chunk: number) =>
    JSON.stringify({
      status: 500,
      retried: 3,
      sourceBody: Buffer.from(chunkTask(chunk)).toString("base64"),
      sourceMessageId: `msg_${randomBytes(8).toString("hex")}`,
    });

  async function deliver(route: string, body: string, signature: string | null): Promise<Response> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (signature !== null) headers["upstash-signature"] = signature;
    return fetch(`${base}${route}`, { method: "POST", headers, body });
  }

  const now = () => Math.floor(Date.now() / 1000);
  const claims = (sub: string, body: string, overrides: Record<string, unknown> = {}) => ({
    iss: "Upstash",
    sub,
    exp: now() + 300,
    nbf: now(),
    iat: now(),
    jti: `jwt_${randomBytes(8).toString("hex")}`,
    body: bodyHash(Buffer.from(body)),
    ...overrides,
  });

  /** Every way a delivery to `route` with `body` can be forged, each with what it sends. */
  function forgeries(route: string, body: string, otherRoute: string) {
    const url = `${base}${route}`;
    const otherHost = new URL(url);
    otherHost.hostname = "attacker.example";
    const tampered = body.replace(/"chunk":0/, '"chunk":1').replace(/"status":500/, '"status":501');
    expect(tampered).not.toBe(body);
    const cases: Array<[string, string, string | null]> = [
      ["no Upstash-Signature", body, null],
      ["an empty signature", body, ""],
      ["a signature that is not a JWT", body, "not-a-jwt"],
      ["a token signed with another key", body, signDelivery(`sig_${randomBytes(24).toString("base64url")}`, url, Buffer.from(body))],
      [
        "an expired token",
        body,
        signClaims(signingKey, claims(url, body, { exp: now() - 600, nbf: now() - 900, iat: now() - 900 })),
      ],
      ["a token not valid yet", body, signClaims(signingKey, claims(url, body, { nbf: now() + 600, iat: now() + 600 }))],
      ["a token for another path", body, signDelivery(signingKey, `${base}${otherRoute}`, Buffer.from(body))],
      ["a token for another host", body, signDelivery(signingKey, otherHost.toString(), Buffer.from(body))],
      ["a token with a query string in its URL", body, signDelivery(signingKey, `${url}?type=chunk`, Buffer.from(body))],
      ["a token from another issuer", body, signClaims(signingKey, claims(url, body, { iss: "Someone" }))],
      ["a tampered body", tampered, signDelivery(signingKey, url, Buffer.from(body))],
      ["a body with a byte added", `${body} `, signDelivery(signingKey, url, Buffer.from(body))],
    ];
    return cases;
  }

  async function expectUntouched(): Promise<void> {
    expect(await chunks()).toEqual(
      Array.from({ length: CHUNKS }, (_, chunk) => ({ chunk, status: "pending", attempts: 0, error: null })),
    );
    expect(await rowsWritten()).toBe(0);
    expect((await engine.requireJob(job.id)).status).toBe("running");
  }

  async function expectAllRefused(route: string, body: string, otherRoute: string): Promise<void> {
    for (const [name, forgedBody, signature] of forgeries(route, body, otherRoute)) {
      const response = await deliver(route, forgedBody, signature);
      expect(response.status, name).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code, name).toBe("unauthorized");
    }
  }

  describe("POST /api/tasks/chunk", () => {
    it("answers 401 to every forged delivery and processes nothing", async () => {
      await expectUntouched();
      await expectAllRefused("/api/tasks/chunk", chunkTask(0), "/api/tasks/plan");
      await expectUntouched();
    });
  });

  describe("POST /api/tasks/failure", () => {
    it("answers 401 to every forged failure callback and fails nothing", async () => {
      await expectAllRefused("/api/tasks/failure", failureCallback(0), "/api/tasks/chunk");
      await expectUntouched();
    });
  });

  describe("signed deliveries", () => {
    it("ignores (200) a message whose type is not its route's, and processes nothing", async () => {
      // Validly signed for /api/tasks/plan, but the body is a chunk task.
      const body = chunkTask(0);
      const response = await deliver("/api/tasks/plan", body, signDelivery(signingKey, `${base}/api/tasks/plan`, Buffer.from(body)));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ outcome: "ignored", reason: "type mismatch" });
      await expectUntouched();
    });

    it("processes a chunk delivery signed with the embedded queue's key, once", async () => {
      const body = chunkTask(0);
      const url = `${base}/api/tasks/chunk`;
      const response = await deliver("/api/tasks/chunk", body, signDelivery(signingKey, url, Buffer.from(body)));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ outcome: "completed" });
      expect((await chunks())[0]).toEqual({ chunk: 0, status: "done", attempts: 1, error: null });
      expect(await rowsWritten()).toBe(ROWS_PER_CHUNK);

      // A duplicate (a new signature over the same task) changes nothing.
      const again = await deliver("/api/tasks/chunk", body, signDelivery(signingKey, url, Buffer.from(body)));
      expect(await again.json()).toEqual({ outcome: "already_done" });
      expect(await rowsWritten()).toBe(ROWS_PER_CHUNK);
      expect((await chunks()).slice(1).every((row) => row.status === "pending" && row.attempts === 0)).toBe(true);
    });

    it("records a failure callback signed with the embedded queue's key", async () => {
      const body = failureCallback(2);
      const response = await deliver(
        "/api/tasks/failure",
        body,
        signDelivery(signingKey, `${base}/api/tasks/failure`, Buffer.from(body)),
      );
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ outcome: "recorded" });
      expect((await chunks())[2]).toMatchObject({
        status: "failed",
        attempts: 0,
        error: "the queue gave up after 4 attempt(s); last answer: HTTP 500",
      });
    });

    it("accepts the queue's own deliveries: released, they finish the job with exact counts", async () => {
      server.queue?.resume();
      const current = await waitForStatus(() => engine.requireJob(job.id), { timeoutMs: 20_000, intervalMs: 25 });
      expect(current.status).toBe("completed_with_errors");
      expect(current.counters).toMatchObject({
        chunks_done: CHUNKS - 1,
        chunks_failed: 1,
        rows_done: (CHUNKS - 1) * ROWS_PER_CHUNK,
        rows_inserted: (CHUNKS - 1) * ROWS_PER_CHUNK,
        rows_updated: 0,
        rows_unchanged: 0,
      });
      expect(await rowsWritten()).toBe((CHUNKS - 1) * ROWS_PER_CHUNK);
    });
  });
});
