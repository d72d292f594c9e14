/**
 * lib/queue against the QStash stand-in: what the job engine publishes arrives at
 * `${publicBaseUrl}/api/tasks/<type>`, every batch result is checked, and
 * verifyDelivery accepts only deliveries signed for this deployment's URL and body.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startQstashServer, type QstashServer } from "../../dev/qstash/server.js";
import { signClaims, signDelivery, bodyHash } from "../../dev/qstash/signature.js";
import { AppError } from "../../lib/errors.js";
import { addLogSink, memorySink } from "../../lib/log/index.js";
import {
  createTaskQueue,
  parseTaskMessage,
  QueuePublishError,
  type TaskMessage,
  type TaskQueue,
} from "../../lib/queue/index.js";
import { type Destination, type ReceivedRequest, startDestination } from "../support/destination.js";

const TOKEN = "task-queue-test-token-0123456789";
const CURRENT_KEY = "sig_task_queue_current";
const NEXT_KEY = "sig_task_queue_next";

let qstash: QstashServer;
let app: Destination;
let queue: TaskQueue;

function settings(overrides: Partial<{ token: string }> = {}) {
  return {
    mode: "qstash" as const,
    url: qstash.url,
    token: TOKEN,
    currentSigningKey: CURRENT_KEY,
    nextSigningKey: NEXT_KEY,
    ...overrides,
  };
}

function task(type: string, payload: unknown, correlationId = "corr-1"): TaskMessage {
  return { type, payload, correlation_id: correlationId };
}

/** The delivery as the Vercel function sees it; `host` is whatever the caller put in Host. */
function asRequest(delivery: ReceivedRequest, host = "127.0.0.1"): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(delivery.headers)) {
    if (value !== undefined && name !== "host") headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  return new Request(`http://${host}${delivery.path}`, { method: delivery.method, headers, body: delivery.body });
}

function forged(path: string, body: string, signature: string | null): Request {
  const headers = new Headers({ "content-type": "application/json" });
  if (signature !== null) headers.set("upstash-signature", signature);
  return new Request(`http://127.0.0.1${path}`, { method: "POST", headers, body });
}

async function unauthorized(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect(error).toMatchObject({ code: "unauthorized", status: 401 });
  return error as AppError;
}

beforeAll(async () => {
  app = await startDestination();
  qstash = await startQstashServer({
    token: TOKEN,
    currentSigningKey: CURRENT_KEY,
    nextSigningKey: NEXT_KEY,
    timeScale: 0.001,
  });
  queue = createTaskQueue(settings(), app.url, { retryBaseMs: 5 });
});

afterEach(async () => {
  await qstash.idle();
  qstash.rejectNext(0);
  app.requests.length = 0;
  app.setHandler(() => ({}));
});

afterAll(async () => {
  await qstash.close();
  await app.close();
});

describe("createTaskQueue on the QStash stand-in", () => {
  it("publishes a task to /api/tasks/<type>, and verifyDelivery accepts the real delivery", async () => {
    const sent = task("import-chunk", { job: "j1", chunk: 4, note: "ąę" }, "corr-publish");
    const result = await queue.publish(sent, {
      deduplicationId: "j1-4-a1",
      retries: 2,
      timeoutSeconds: 30,
      failureCallback: true,
      flowControl: { key: "job-j1", parallelism: 2 },
    });
    expect(result).toEqual({ messageId: expect.stringMatching(/^msg_/), deduplicated: false });

    const [delivery] = await app.waitFor(1);
    if (!delivery) throw new Error("no delivery");
    expect(delivery.path).toBe("/api/tasks/import-chunk");
    expect(delivery.headers["x-correlation-id"]).toBe("corr-publish");

    // The Host header is the caller's to choose: verification uses the configured base.
    const verified = await queue.verifyDelivery(asRequest(delivery, "attacker.example"));
    expect(verified).toEqual({ body: JSON.stringify(sent), messageId: result.messageId, retried: 0 });
    expect(parseTaskMessage(verified.body)).toEqual(sent);

    expect(await queue.publish(sent, { deduplicationId: "j1-4-a1" })).toEqual({
      messageId: result.messageId,
      deduplicated: true,
    });
    await qstash.idle();
    expect(app.requests).toHaveLength(1);
    expect(qstash.message(result.messageId)).toMatchObject({ maxRetries: 2, flowControlKey: "job-j1" });
  });

  it("sets retries explicitly (3 by default) and delays by delaySeconds", async () => {
    const { messageId } = await queue.publish(task("sync-page", { page: 1 }), { delaySeconds: 60 });
    expect(qstash.message(messageId)).toMatchObject({ maxRetries: 3, state: "scheduled" });
    const info = qstash.message(messageId);
    expect((info?.notBefore ?? 0) - (info?.createdAt ?? 0)).toBeGreaterThanOrEqual(59_000);
  });

  it("publishMany sends batches and returns one checked result per task, in order", async () => {
    const tasks = Array.from({ length: 250 }, (_, n) => ({
      task: task("import-chunk", { chunk: n }),
      options: { deduplicationId: `many-${n}` },
    }));
    const results = await queue.publishMany(tasks);
    expect(results).toHaveLength(250);
    expect(new Set(results.map((r) => r.messageId)).size).toBe(250);
    await qstash.idle();
    expect(app.requests).toHaveLength(250);
    const byId = new Map(app.requests.map((r) => [r.headers["upstash-message-id"], JSON.parse(r.text) as TaskMessage]));
    results.forEach((result, n) => expect(byId.get(result.messageId)?.payload).toEqual({ chunk: n }));

    // The same ids again: accepted as duplicates, nothing delivered twice.
    const again = await queue.publishMany(tasks.slice(0, 10));
    expect(again.every((r, n) => r.deduplicated && r.messageId === results[n]?.messageId)).toBe(true);
    await qstash.idle();
    expect(app.requests).toHaveLength(250);
  });

  it("retries the entries QStash refused, and delivers each task once", async () => {
    qstash.rejectNext(2);
    const tasks = [0, 1, 2].map((n) => ({ task: task("import-chunk", { n }), options: { deduplicationId: `retry-${n}` } }));
    const results = await queue.publishMany(tasks);
    expect(results.map((r) => r.deduplicated)).toEqual([false, false, false]);
    await qstash.idle();
    expect(app.requests.map((r) => (JSON.parse(r.text) as TaskMessage).payload)).toHaveLength(3);
    expect(qstash.stats().rejected).toBeGreaterThanOrEqual(2);
  });

  it("throws QueuePublishError naming the tasks a batch could not publish, and those never tried", async () => {
    const small = createTaskQueue(settings(), app.url, { batchSize: 2, publishAttempts: 3, retryBaseMs: 1 });
    qstash.rejectNext(6); // the first batch's two messages, three times
    const tasks = [0, 1, 2, 3, 4].map((n) => ({
      task: task(`type-${n}`, { n }),
      options: { deduplicationId: `fail-${n}` },
    }));
    const error = await small.publishMany(tasks).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueuePublishError);
    const failure = error as QueuePublishError;
    expect(failure).toMatchObject({ code: "service_unavailable", status: 503 });
    expect(failure.failures.map((f) => [f.index, f.type, f.deduplicationId])).toEqual([
      [0, "type-0", "fail-0"],
      [1, "type-1", "fail-1"],
      [2, "type-2", "fail-2"],
      [3, "type-3", "fail-3"],
      [4, "type-4", "fail-4"],
    ]);
    expect(failure.failures[0]?.reason).toMatch(/rejectNext/);
    expect(failure.failures[2]?.reason).toMatch(/not attempted/);
    expect(failure.results).toEqual([null, null, null, null, null]);
    expect(failure.message).toMatch(/5 of 5 task message\(s\) could not be published: #0 type-0 \(fail-0\)/);
  });

  it("throws QueuePublishError for a single publish QStash refuses, and misconfigured for a wrong token", async () => {
    qstash.rejectNext(3);
    const refused = await queue.publish(task("import-chunk", {})).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(QueuePublishError);
    expect((refused as QueuePublishError).failures).toEqual([
      expect.objectContaining({ index: 0, type: "import-chunk", reason: expect.stringMatching(/500/) }),
    ]);

    const publishedBefore = qstash.stats().published;
    const wrongToken = createTaskQueue(settings({ token: "wrong-token-0123456789" }), app.url, { retryBaseMs: 1 });
    const error = await wrongToken.publishMany([{ task: task("import-chunk", {}) }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueuePublishError);
    expect(error).toMatchObject({ code: "misconfigured" });
    expect(qstash.stats().published).toBe(publishedBefore);
  });

  it("refuses an invalid task before publishing anything", async () => {
    const publishedBefore = qstash.stats().published;
    await expect(
      queue.publishMany([{ task: task("ok-type", {}) }, { task: task("Bad Type!", {}) }]),
    ).rejects.toThrow(/type/);
    await expect(queue.publish(task("failure", {}))).rejects.toThrow(/reserved/);
    expect(qstash.stats().published).toBe(publishedBefore);
  });

  describe("verifyDelivery", () => {
    const path = "/api/tasks/import-chunk";
    const body = JSON.stringify(task("import-chunk", { chunk: 1 }));
    const now = () => Math.floor(Date.now() / 1_000);
    const claims = (overrides: Record<string, unknown> = {}) => ({
      iss: "Upstash",
      sub: `${app.url}${path}`,
      iat: now(),
      nbf: now(),
      exp: now() + 300,
      jti: "jwt_test",
      body: bodyHash(Buffer.from(body)),
      ...overrides,
    });

    it("accepts a signature made with the next key (rotation)", async () => {
      const signature = signDelivery(NEXT_KEY, `${app.url}${path}`, Buffer.from(body));
      await expect(queue.verifyDelivery(forged(path, body, signature))).resolves.toMatchObject({ body });
    });

    it("answers 401 for a missing signature", async () => {
      await unauthorized(queue.verifyDelivery(forged(path, body, null)));
    });

    it("answers 401 for a signature made with another key", async () => {
      await unauthorized(queue.verifyDelivery(forged(path, body, signClaims("not-our-key", claims()))));
    });

    it("answers 401 for an expired signature", async () => {
      const expired = signClaims(CURRENT_KEY, claims({ iat: now() - 900, nbf: now() - 900, exp: now() - 600 }));
      await unauthorized(queue.verifyDelivery(forged(path, body, expired)));
    });

    it("answers 401 for a signature issued for another URL", async () => {
      const elsewhere = signClaims(CURRENT_KEY, claims({ sub: `${app.url}/api/tasks/other-type` }));
      await unauthorized(queue.verifyDelivery(forged(path, body, elsewhere)));
      const otherHost = signClaims(CURRENT_KEY, claims({ sub: `https://evil.example${path}` }));
      await unauthorized(queue.verifyDelivery(forged(path, body, otherHost)));
    });

    it("answers 401 for a tampered body", async () => {
      const signature = signClaims(CURRENT_KEY, claims());
      await expect(queue.verifyDelivery(forged(path, body, signature))).resolves.toMatchObject({ retried: 0 });
      await unauthorized(queue.verifyDelivery(forged(path, body.replace('"chunk":1', '"chunk":2'), signature)));
    });

    it("answers 401 for garbage and for a token without a body claim, and never logs the signature", async () => {
      const sink = memorySink();
      const remove = addLogSink(sink);
      try {
        const noBodyClaim = signClaims(CURRENT_KEY, { ...claims(), body: undefined });
        await unauthorized(queue.verifyDelivery(forged(path, body, noBodyClaim)));
        await unauthorized(queue.verifyDelivery(forged(path, body, "not.a.jwt")));
        expect(sink.lines.join("\n")).not.toContain(noBodyClaim);
        expect(sink.lines.length).toBeGreaterThan(0);
      } finally {
        remove();
      }
    });

    it("ignores QSTASH_DEV: our keys are used, never the SDK's public dev keys", async () => {
      vi.stubEnv("QSTASH_DEV", "true");
      try {
        const devProof = createTaskQueue(settings(), app.url);
        const { messageId } = await devProof.publish(task("dev-check", {}));
        const [delivery] = await app.waitFor(1, (r) => r.headers["upstash-message-id"] === messageId);
        await expect(devProof.verifyDelivery(asRequest(delivery as ReceivedRequest))).resolves.toMatchObject({ messageId });
      } finally {
        vi.unstubAllEnvs();
      }
    });
  });
});
