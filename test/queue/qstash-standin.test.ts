/**
 * The QStash stand-in's contract, checked with the real @upstash/qstash Client
 * (publishing) and Receiver (verifying deliveries), against a local destination.
 * Waits are scaled with `timeScale`; assertions use only the scaled lower bounds.
 */
import { Client, QstashError, Receiver, SignatureError } from "@upstash/qstash";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type QstashServer, type QstashServerOptions, startQstashServer } from "../../dev/qstash/server.js";
import { type Destination, type ReceivedRequest, startDestination } from "../support/destination.js";

const TOKEN = "test-qstash-token-0123456789";
const CURRENT_KEY = "sig_current_key_for_tests";
const NEXT_KEY = "sig_next_key_for_tests";

const receiver = new Receiver({ currentSigningKey: CURRENT_KEY, nextSigningKey: NEXT_KEY, devMode: false });

let destination: Destination;
const servers: QstashServer[] = [];

async function standIn(options: Partial<QstashServerOptions> = {}): Promise<{ qstash: QstashServer; client: Client }> {
  const qstash = await startQstashServer({
    token: TOKEN,
    currentSigningKey: CURRENT_KEY,
    nextSigningKey: NEXT_KEY,
    timeScale: 0.001,
    ...options,
  });
  servers.push(qstash);
  return { qstash, client: new Client({ token: TOKEN, baseUrl: qstash.url, retry: false, devMode: false }) };
}

function header(request: ReceivedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

function signatureOf(request: ReceivedRequest): string {
  const value = header(request, "upstash-signature");
  if (!value) throw new Error(`no upstash-signature on ${request.path}`);
  return value;
}

beforeAll(async () => {
  destination = await startDestination();
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  destination.setHandler(() => ({}));
  destination.requests.length = 0;
});

afterAll(async () => {
  await destination.close();
});

describe("QStash stand-in with the real Client and Receiver", () => {
  it("publishes and delivers the exact body, signed so the real Receiver accepts it", async () => {
    const { qstash, client } = await standIn();
    const url = `${destination.url}/api/tasks/import-chunk?chunk=3&name=a%20b`;
    const body = { type: "import-chunk", payload: { text: "zażółć 🚚", n: 1 }, correlation_id: "c-1" };

    const published = await client.publishJSON({ url, body, retries: 0 });
    expect(published).toEqual({ messageId: expect.stringMatching(/^msg_/), url });

    const [delivery] = await destination.waitFor(1);
    if (!delivery) throw new Error("no delivery");
    expect(delivery.method).toBe("POST");
    expect(delivery.path).toBe("/api/tasks/import-chunk?chunk=3&name=a%20b");
    expect(delivery.text).toBe(JSON.stringify(body));
    expect(header(delivery, "content-type")).toBe("application/json");
    expect(header(delivery, "upstash-message-id")).toBe(published.messageId);
    expect(header(delivery, "upstash-retried")).toBe("0");
    expect(header(delivery, "user-agent")).toBe("Upstash-QStash");

    const signature = signatureOf(delivery);
    await expect(receiver.verify({ signature, body: delivery.text, url })).resolves.toBe(true);
    const claims = JSON.parse(Buffer.from(signature.split(".")[1] ?? "", "base64url").toString()) as Record<
      string,
      unknown
    >;
    expect(claims).toMatchObject({ iss: "Upstash", sub: url });
    expect((claims.exp as number) - (claims.iat as number)).toBe(300);

    const wrongKey = new Receiver({ currentSigningKey: "other-key", nextSigningKey: "other-key-2", devMode: false });
    await expect(wrongKey.verify({ signature, body: delivery.text, url })).rejects.toBeInstanceOf(SignatureError);
    await expect(
      receiver.verify({ signature, body: delivery.text, url: `${destination.url}/api/tasks/other` }),
    ).rejects.toThrow(/invalid subject/);
    await expect(receiver.verify({ signature, body: `${delivery.text} `, url })).rejects.toThrow(/body hash/);

    await qstash.idle();
    expect(qstash.message(published.messageId)).toMatchObject({ state: "delivered", retried: 0 });
  });

  it("batches: one result per message, each delivered once with its own body", async () => {
    const { qstash, client } = await standIn();
    const messages = [1, 2, 3].map((n) => ({ url: `${destination.url}/batch/${n}`, body: { n }, retries: 0 }));

    const results = await client.batchJSON(messages);
    expect(results).toHaveLength(3);
    for (const [index, result] of results.entries()) {
      expect(result).toEqual({ messageId: expect.stringMatching(/^msg_/), url: `${destination.url}/batch/${index + 1}` });
    }
    await qstash.idle();
    expect(destination.requests.map((r) => [r.path, r.text]).sort()).toEqual([
      ["/batch/1", '{"n":1}'],
      ["/batch/2", '{"n":2}'],
      ["/batch/3", '{"n":3}'],
    ]);
    for (const delivery of destination.requests) {
      const url = `${destination.url}${delivery.path}`;
      await expect(receiver.verify({ signature: signatureOf(delivery), body: delivery.text, url })).resolves.toBe(true);
    }
  });

  it("delivers forwarded headers without their Upstash-Forward- prefix, and the method asked for", async () => {
    const { qstash, client } = await standIn();
    await client.publish({
      url: `${destination.url}/forward`,
      body: "plain text",
      method: "PUT",
      headers: { "X-Custom": "abc", "content-type": "text/plain" },
    });
    await qstash.idle();
    const [delivery] = destination.requests;
    expect(delivery?.method).toBe("PUT");
    expect(delivery?.text).toBe("plain text");
    expect(delivery?.headers["x-custom"]).toBe("abc");
    expect(delivery?.headers["content-type"]).toBe("text/plain");
    expect(Object.keys(delivery?.headers ?? {}).filter((name) => name.startsWith("upstash-forward"))).toEqual([]);
  });

  it("waits at least the scaled Retry-After before the next attempt", async () => {
    const { qstash, client } = await standIn({ timeScale: 0.1 });
    destination.setHandler((request) =>
      header(request, "upstash-retried") === "0" ? { status: 503, headers: { "retry-after": "2" } } : {},
    );
    await client.publishJSON({ url: `${destination.url}/retry-after`, body: {}, retries: 3 });
    const [first, second] = await destination.waitFor(2);
    expect(header(second as ReceivedRequest, "upstash-retried")).toBe("1");
    expect((second as ReceivedRequest).at - (first as ReceivedRequest).at).toBeGreaterThanOrEqual(2_000 * 0.1);
    await qstash.idle();
    expect(destination.requests).toHaveLength(2);
  });

  it("backs off exponentially (QStash's e^(2.5n) s, scaled) on 500s, then delivers", async () => {
    const timeScale = 0.001;
    const { qstash, client } = await standIn({ timeScale });
    destination.setHandler((request) => (Number(header(request, "upstash-retried")) < 2 ? { status: 500 } : {}));
    const { messageId } = await client.publishJSON({ url: `${destination.url}/backoff`, body: {}, retries: 3 });
    await qstash.idle();
    const attempts = destination.requests;
    expect(attempts.map((r) => header(r, "upstash-retried"))).toEqual(["0", "1", "2"]);
    const [a, b, c] = attempts.map((r) => r.at) as [number, number, number];
    expect(b - a).toBeGreaterThanOrEqual(Math.exp(2.5) * 1_000 * timeScale);
    expect(c - b).toBeGreaterThanOrEqual(Math.exp(5) * 1_000 * timeScale);
    expect(qstash.message(messageId)).toMatchObject({
      state: "delivered",
      retried: 2,
      attempts: [{ status: 500 }, { status: 500 }, { status: 200 }],
    });
  });

  it("honours Upstash-Retry-Delay expressions", async () => {
    const { qstash, client } = await standIn({ timeScale: 1 });
    destination.setHandler((request) => (header(request, "upstash-retried") === "0" ? { status: 500 } : {}));
    await client.publishJSON({ url: `${destination.url}/retry-delay`, body: {}, retries: 2, retryDelay: "max(150, 100 * retried)" });
    await qstash.idle();
    const [first, second] = destination.requests as [ReceivedRequest, ReceivedRequest];
    expect(second.at - first.at).toBeGreaterThanOrEqual(150);
  });

  it("never overlaps two deliveries of a key with parallelism=1, while another key runs in parallel", async () => {
    const { qstash, client } = await standIn();
    const running = { serial: 0, wide: 0 };
    const peak = { serial: 0, wide: 0 };
    let overlapped = false; // a serial and a wide delivery in flight at the same moment
    destination.setHandler(async (request) => {
      const lane = request.path.startsWith("/serial") ? "serial" : "wide";
      running[lane] += 1;
      peak[lane] = Math.max(peak[lane], running[lane]);
      overlapped ||= running.serial > 0 && running.wide > 0;
      await new Promise((resolve) => setTimeout(resolve, 60));
      running[lane] -= 1;
      return {};
    });
    await client.batchJSON([
      ...[1, 2, 3, 4].map((n) => ({
        url: `${destination.url}/serial/${n}`,
        body: { n },
        flowControl: { key: "serial", parallelism: 1 },
      })),
      ...[1, 2, 3, 4].map((n) => ({
        url: `${destination.url}/wide/${n}`,
        body: { n },
        flowControl: { key: "wide", parallelism: 4 },
      })),
    ]);
    await qstash.idle();
    expect(destination.requests).toHaveLength(8);
    expect(peak.serial).toBe(1);
    expect(peak.wide).toBeGreaterThan(1);
    expect(overlapped).toBe(true);
    // The serial key's deliveries arrive in publish order, one after the other.
    expect(destination.requests.filter((r) => r.path.startsWith("/serial")).map((r) => r.path)).toEqual([
      "/serial/1",
      "/serial/2",
      "/serial/3",
      "/serial/4",
    ]);
    expect(qstash.stats().flowControlKeys).toBe(0);
  });

  it("starts no more than `rate` deliveries of a key per period", async () => {
    const { qstash, client } = await standIn();
    await client.batchJSON(
      [1, 2, 3].map((n) => ({
        url: `${destination.url}/rate/${n}`,
        body: { n },
        flowControl: { key: "rated", rate: 2, period: "1s" as const },
      })),
    );
    await qstash.idle();
    expect(destination.requests).toHaveLength(3);
    // The limit is on delivery starts, so read them where they happen: in the stand-in
    // (arrival times at the destination also include each connection's latency).
    const starts = qstash
      .messages()
      .flatMap((message) => message.attempts.map((attempt) => attempt.startedAt))
      .sort((a, b) => a - b);
    expect((starts[2] as number) - (starts[0] as number)).toBeGreaterThanOrEqual(1_000);
  });

  it("accepts a repeated deduplication id with deduplicated: true and delivers once", async () => {
    const { qstash, client } = await standIn();
    const request = { url: `${destination.url}/dedup`, body: { n: 1 }, deduplicationId: "chunk-7-attempt-1" };
    const first = await client.publishJSON(request);
    const again = await client.publishJSON(request);
    const [inBatch] = await client.batchJSON([request]);
    expect(first.deduplicated).toBeUndefined();
    expect(again).toEqual({ messageId: first.messageId, url: request.url, deduplicated: true });
    expect(inBatch).toMatchObject({ messageId: first.messageId, deduplicated: true });

    const content = { url: `${destination.url}/dedup-content`, body: { n: 2 }, contentBasedDeduplication: true };
    const c1 = await client.publishJSON(content);
    const c2 = await client.publishJSON(content);
    const c3 = await client.publishJSON({ ...content, body: { n: 3 } });
    expect(c2).toMatchObject({ messageId: c1.messageId, deduplicated: true });
    expect(c3.deduplicated).toBeUndefined();

    await qstash.idle();
    expect(destination.requests.map((r) => r.path).sort()).toEqual(["/dedup", "/dedup-content", "/dedup-content"]);
    expect(qstash.stats()).toMatchObject({ published: 3, deduplicated: 3 });
  });

  it("forgets a deduplication id after the window", async () => {
    const { qstash, client } = await standIn({ dedupWindowMs: 50 });
    const request = { url: `${destination.url}/dedup-window`, body: {}, deduplicationId: "short-lived" };
    await client.publishJSON(request);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect((await client.publishJSON(request)).deduplicated).toBeUndefined();
    await qstash.idle();
    expect(destination.requests).toHaveLength(2);
  });

  it("after the last retry, sends the signed failure callback with the source body; callbacks follow every attempt", async () => {
    const { qstash, client } = await standIn();
    destination.setHandler((request) =>
      request.path.startsWith("/task") ? { status: 500, body: "nope", headers: { "x-why": "broken" } } : {},
    );
    const body = { type: "import-chunk", payload: { chunk: 12 }, correlation_id: "c-12" };
    const { messageId } = await client.publishJSON({
      url: `${destination.url}/task?x=1`,
      body,
      retries: 1,
      failureCallback: `${destination.url}/failure`,
      callback: `${destination.url}/callback`,
      headers: { "Upstash-Failure-Callback-Forward-X-Correlation-Id": "c-12" },
    });
    await qstash.idle();

    expect(destination.requests.filter((r) => r.path.startsWith("/task"))).toHaveLength(2);
    expect(destination.requests.filter((r) => r.path === "/callback")).toHaveLength(2);
    const failures = destination.requests.filter((r) => r.path === "/failure");
    expect(failures).toHaveLength(1);
    const failure = failures[0] as ReceivedRequest;
    expect(header(failure, "x-correlation-id")).toBe("c-12");
    await expect(
      receiver.verify({ signature: signatureOf(failure), body: failure.text, url: `${destination.url}/failure` }),
    ).resolves.toBe(true);

    const payload = JSON.parse(failure.text) as Record<string, unknown>;
    expect(payload).toMatchObject({
      status: 500,
      retried: 1,
      maxRetries: 1,
      sourceMessageId: messageId,
      url: `${destination.url}/task?x=1`,
      method: "POST",
      header: { "x-why": ["broken"] },
      sourceHeader: { "content-type": ["application/json"] },
    });
    expect(Buffer.from(payload.body as string, "base64").toString()).toBe("nope");
    expect(JSON.parse(Buffer.from(payload.sourceBody as string, "base64").toString())).toEqual(body);
    expect(payload.dlqId).toEqual(expect.any(String));
    expect(payload.createdAt).toEqual(expect.any(Number));
    expect(qstash.message(messageId)).toMatchObject({ state: "failed", retried: 1 });
  });

  it("stops retrying on 489 with Upstash-NonRetryable-Error", async () => {
    const { qstash, client } = await standIn();
    destination.setHandler(() => ({ status: 489, headers: { "upstash-nonretryable-error": "true" } }));
    const { messageId } = await client.publishJSON({ url: `${destination.url}/permanent`, body: {}, retries: 3 });
    await qstash.idle();
    expect(destination.requests).toHaveLength(1);
    expect(qstash.message(messageId)?.state).toBe("failed");
  });

  it("dropNext(n) loses exactly the next n delivery attempts", async () => {
    const { qstash, client } = await standIn();
    qstash.dropNext(2);
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      ids.push((await client.publishJSON({ url: `${destination.url}/drop/${n}`, body: { n } })).messageId);
      await qstash.idle();
    }
    expect(destination.requests.map((r) => r.path)).toEqual(["/drop/3"]);
    expect(ids.map((id) => qstash.message(id)?.state)).toEqual(["dropped", "dropped", "delivered"]);
    expect(qstash.stats()).toMatchObject({ dropped: 2, delivered: 1 });
  });

  it("honours delay (seconds and duration strings), scaled", async () => {
    const timeScale = 0.1;
    const { qstash, client } = await standIn({ timeScale });
    const publishedAt = performance.now();
    await client.publishJSON({ url: `${destination.url}/delay/seconds`, body: {}, delay: 3 });
    await client.publishJSON({ url: `${destination.url}/delay/string`, body: {}, delay: "5s" });
    await qstash.idle();
    const arrival = (path: string) => destination.requests.find((r) => r.path === path)?.at ?? 0;
    expect(arrival("/delay/seconds") - publishedAt).toBeGreaterThanOrEqual(3_000 * timeScale);
    expect(arrival("/delay/string") - publishedAt).toBeGreaterThanOrEqual(5_000 * timeScale);
  });

  it("holds deliveries while paused", async () => {
    const { qstash, client } = await standIn();
    qstash.pause();
    await client.publishJSON({ url: `${destination.url}/paused`, body: {} });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(destination.requests).toHaveLength(0);
    expect(qstash.stats()).toMatchObject({ active: 1, waiting: 1, paused: true });
    qstash.resume();
    await qstash.idle();
    expect(destination.requests).toHaveLength(1);
  });

  it("counts an attempt that outlives Upstash-Timeout as failed", async () => {
    const { qstash, client } = await standIn();
    destination.setHandler(() => ({ delayMs: 1_500 }));
    const { messageId } = await client.publishJSON({ url: `${destination.url}/slow`, body: {}, retries: 0, timeout: 1 });
    await qstash.idle();
    expect(qstash.message(messageId)).toMatchObject({
      state: "failed",
      attempts: [{ status: null, error: expect.stringMatching(/no response within 1000 ms/) }],
    });
  });

  it("keeps a bounded history of finished messages", async () => {
    const { qstash, client } = await standIn({ historyLimit: 5 });
    await client.batchJSON(Array.from({ length: 12 }, (_, n) => ({ url: `${destination.url}/history/${n}`, body: { n } })));
    await qstash.idle();
    expect(destination.requests).toHaveLength(12);
    expect(qstash.messages()).toHaveLength(5);
    expect(qstash.stats()).toMatchObject({ delivered: 12, active: 0 });
  });

  it("refuses a wrong token with 401, which the SDK throws", async () => {
    const { qstash } = await standIn();
    const intruder = new Client({ token: "not-the-token", baseUrl: qstash.url, retry: false, devMode: false });
    const error = await intruder.publishJSON({ url: `${destination.url}/x`, body: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QstashError);
    expect((error as QstashError).status).toBe(401);
    await expect(intruder.batchJSON([{ url: `${destination.url}/x`, body: {} }])).rejects.toMatchObject({ status: 401 });
    expect(qstash.stats().published).toBe(0);
  });

  it("refuses what it does not implement instead of pretending", async () => {
    const { qstash, client } = await standIn();
    await expect(client.publishJSON({ urlGroup: "my-group", body: {} })).rejects.toMatchObject({ status: 400 });
    const [result] = await client.batchJSON([{ url: `${destination.url}/q`, body: {}, queueName: "q" }]);
    expect(result).toMatchObject({ error: expect.stringMatching(/queues are not supported/) });
    expect(qstash.stats().published).toBe(0);
  });
});
