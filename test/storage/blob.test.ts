/**
 * The ObjectStore contract, run with the real @vercel/blob SDK against the Blob
 * stand-in (dev/blob), once per read path: "blob-url" (what the dev server and local
 * services use) and "sdk-get" (production: the SDK's get(), whose fixed
 * *.blob.vercel-storage.com host is redirected to the stand-in here). Then client
 * tokens and the upload-completed callback, checked by the SDK's own handleUpload().
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { BlobAccessError, BlobClientTokenExpiredError, BlobContentTypeNotAllowedError } from "@vercel/blob";
import { BlobFileTooLargeError, BlobPathnameMismatchError } from "@vercel/blob";
import {
  generateClientTokenFromReadWriteToken,
  handleUpload,
  type HandleUploadBody,
  put as clientPut,
  upload,
} from "@vercel/blob/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BlobServer, newReadWriteToken, startBlobServer } from "../../dev/blob/server.js";
import { listenOn } from "../../dev/servers/listen.js";
import { applyBlobSdkSettings } from "../../lib/config.js";
import { configureLogging } from "../../lib/log/index.js";
import {
  type BlobReadMode,
  createBlobObjectStore,
  InvalidObjectKeyError,
  InvalidRangeError,
  newImportKey,
  ObjectExistsError,
  ObjectNotFoundError,
  type ObjectStore,
  StorageRefusedError,
  StorageUnavailableError,
} from "../../lib/storage/index.js";
import { installBlobHostRedirect, REFUSED_KEYS, type RedirectedRequest } from "../support/blob.js";

const MiB = 1024 * 1024;
/** Every byte value, several times over, and some randomness. */
const BINARY = Buffer.concat([Buffer.from(Array.from({ length: 256 * 4 }, (_, i) => i % 256)), randomBytes(250_000)]);
const TEXT = "sku,name,price\nA-1,Cămașă albă,99.90\nB-2,Kaos \"polos\",45000\nC-3,数据,1\n";
const FAST_RETRY = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 };

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

let server: BlobServer;
let dataDir: string;
let releaseSdk: () => void;

beforeAll(async () => {
  configureLogging({ level: "error", format: "json", stdout: false });
  dataDir = mkdtempSync(path.join(os.tmpdir(), "dropflow-blob-"));
  server = await startBlobServer({ dataDir, token: newReadWriteToken() });
  // VERCEL_BLOB_API_URL and VERCEL_BLOB_RETRIES=0, through lib/config.ts as in the app.
  releaseSdk = applyBlobSdkSettings(server.url);
});

afterAll(async () => {
  releaseSdk?.();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function streamToBuffer(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

const MODES: Array<{ reads: BlobReadMode; label: string }> = [
  { reads: "blob-url", label: "blob-url reads (dev server, local services)" },
  { reads: "sdk-get", label: "SDK get() reads (production), its host redirected to the stand-in" },
];

describe.each(MODES)("ObjectStore on @vercel/blob against the stand-in: $label", ({ reads }) => {
  let store: ObjectStore;
  let redirect: { requests: RedirectedRequest[]; restore(): void } | null = null;
  const key = (name: string) => `contract-${reads}/${name}`;

  beforeAll(() => {
    if (reads === "sdk-get") redirect = installBlobHostRedirect(server.url);
    store = createBlobObjectStore({ token: server.token, apiUrl: server.url, reads, retry: FAST_RETRY });
  });

  afterAll(() => {
    redirect?.restore();
  });

  it("round-trips bytes exactly: binary, UTF-8 text, a multi-MB file and a multipart upload", async () => {
    const big = randomBytes(5 * MiB + 123);
    const multipart = randomBytes(17 * MiB + 7); // three parts of at most 8 MiB
    const cases: Array<[string, Buffer | string, string, boolean]> = [
      [key("binary.bin"), BINARY, "application/octet-stream", false],
      [key("text.csv"), TEXT, "text/csv", false],
      [key("big.bin"), big, "application/octet-stream", false],
      [key("multipart.bin"), multipart, "application/octet-stream", true],
    ];
    for (const [name, body, contentType, useMultipart] of cases) {
      const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
      const result = await store.put(name, body, { contentType, multipart: useMultipart });
      expect(result).toMatchObject({ key: name, contentType });
      expect(result.etag).not.toBe("");
      const back = await store.readRange(name, 0, bytes.length - 1);
      expect(back.length).toBe(bytes.length);
      expect(sha256(back)).toBe(sha256(bytes));
      expect(sha256(await streamToBuffer(await store.read(name)))).toBe(sha256(bytes));
    }
    expect((await store.readRange(key("text.csv"), 0, 1000)).toString("utf8")).toBe(TEXT);
  });

  it("puts a stream (multipart, bytes unknown up front)", async () => {
    const bytes = randomBytes(9 * MiB + 1);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 1 * MiB) controller.enqueue(bytes.subarray(at, at + 1 * MiB));
        controller.close();
      },
    });
    await store.put(key("stream.bin"), stream, { contentType: "application/octet-stream" });
    expect(sha256(await store.readRange(key("stream.bin"), 0, bytes.length))).toBe(sha256(bytes));
  });

  it("puts a stream in parts with a bounded number in flight (partsInFlight), odd-sized reads included", async () => {
    const bytes = randomBytes(19 * MiB + 3); // parts of 8, 8 and 3 MiB
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 700_001) controller.enqueue(bytes.subarray(at, at + 700_001));
        controller.close();
      },
    });
    await store.put(key("bounded.bin"), stream, { contentType: "application/octet-stream", partsInFlight: 2 });
    expect(sha256(await store.readRange(key("bounded.bin"), 0, bytes.length))).toBe(sha256(bytes));
    expect((await store.head(key("bounded.bin")))?.size).toBe(bytes.length);
  });

  it("heads: size, etag, content type and upload time; null for a missing key", async () => {
    const before = Date.now() - 1000;
    await store.put(key("head.csv"), TEXT, { contentType: "text/csv" });
    const info = await store.head(key("head.csv"));
    expect(info).toMatchObject({ key: key("head.csv"), size: Buffer.byteLength(TEXT), contentType: "text/csv" });
    expect(info?.etag).toMatch(/\S/);
    expect(info?.uploadedAt).toBeInstanceOf(Date);
    expect(info?.uploadedAt.getTime()).toBeGreaterThan(before);
    expect(await store.head(key("no-such-file.csv"))).toBeNull();
  });

  it("reads exactly the requested byte range: start, middle, end, one byte, past the end", async () => {
    const name = key("ranges.bin");
    await store.put(name, BINARY, { contentType: "application/octet-stream" });
    const size = BINARY.length;
    const cases: Array<[number, number]> = [
      [0, 9],
      [1000, 1999],
      [size - 10, size - 1],
      [777, 777],
      [0, 0],
      [size - 1, size - 1],
      [12_345, 200_000],
    ];
    for (const [start, end] of cases) {
      expect((await store.readRange(name, start, end)).equals(BINARY.subarray(start, end + 1))).toBe(true);
    }
    // An end past the last byte gives the bytes up to the end; a start past it, nothing.
    expect((await store.readRange(name, size - 5, size + 1000)).equals(BINARY.subarray(size - 5))).toBe(true);
    expect(await store.readRange(name, size, size + 10)).toEqual(Buffer.alloc(0));
    expect(await store.readRange(name, size + 100, size + 200)).toEqual(Buffer.alloc(0));
    // A stream of a range, and of the rest from an offset.
    expect((await streamToBuffer(await store.read(name, { start: 100, end: 199 }))).equals(BINARY.subarray(100, 200))).toBe(
      true,
    );
    expect((await streamToBuffer(await store.read(name, { start: size - 300 }))).equals(BINARY.subarray(size - 300))).toBe(
      true,
    );
    // Nonsense ranges are refused before any request.
    const requests = server.stats().requests;
    await expect(store.readRange(name, 10, 9)).rejects.toThrow(InvalidRangeError);
    await expect(store.readRange(name, -1, 9)).rejects.toThrow(InvalidRangeError);
    await expect(store.readRange(name, 0.5, 9)).rejects.toThrow(InvalidRangeError);
    await expect(store.read(name, { start: 5, end: 2 })).rejects.toThrow(InvalidRangeError);
    expect(server.stats().requests).toBe(requests);

    if (redirect) {
      // The production path: get() asked Vercel's host for the private blob, with the
      // read-write token and our Range header.
      const asked = redirect.requests.filter((request) => request.url.endsWith("/ranges.bin"));
      expect(asked.length).toBeGreaterThan(0);
      expect(asked[0]?.url).toBe(`https://${server.storeId}.private.blob.vercel-storage.com/${name}`);
      expect(asked[0]?.authorization).toBe(`Bearer ${server.token}`);
      expect(asked[0]?.range).toBe("bytes=0-9");
    }
  });

  it("cuts the range itself when a server ignores Range and sends the whole object", async () => {
    const name = key("ignored-range.bin");
    await store.put(name, BINARY, { contentType: "application/octet-stream" });
    server.ignoreRanges(true);
    try {
      expect((await store.readRange(name, 5000, 5999)).equals(BINARY.subarray(5000, 6000))).toBe(true);
      expect((await store.readRange(name, BINARY.length - 3, BINARY.length + 3)).equals(BINARY.subarray(-3))).toBe(true);
      expect(await store.readRange(name, BINARY.length + 1, BINARY.length + 3)).toEqual(Buffer.alloc(0));
      const tail = await streamToBuffer(await store.read(name, { start: 100_000 }));
      expect(tail.equals(BINARY.subarray(100_000))).toBe(true);
    } finally {
      server.ignoreRanges(false);
    }
  });

  it("reports a missing object as not found on every read", async () => {
    await expect(store.readRange(key("missing.csv"), 0, 10)).rejects.toThrow(ObjectNotFoundError);
    await expect(store.read(key("missing.csv"))).rejects.toMatchObject({ code: "not_found", status: 404 });
  });

  it("lists by prefix, a page at a time", async () => {
    const folder = key("list/");
    const names = ["a.csv", "b.csv", "c.csv", "d/e.csv", "f.csv"].map((name) => `${folder}${name}`);
    for (const name of names) await store.put(name, name, { contentType: "text/csv" });
    await store.put(key("list-other/x.csv"), "x", { contentType: "text/csv" });

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.list(folder, { limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.objects.length).toBeLessThanOrEqual(2);
      seen.push(...page.objects.map((object) => object.key));
      for (const object of page.objects) {
        expect(object.size).toBe(Buffer.byteLength(object.key));
        expect(object.uploadedAt).toBeInstanceOf(Date);
      }
      cursor = page.cursor ?? undefined;
      pages += 1;
    } while (cursor);
    expect(seen).toEqual(names);
    expect(pages).toBe(3);
    expect((await store.list(folder)).cursor).toBeNull();
    expect((await store.list(`${folder}d/`)).objects.map((object) => object.key)).toEqual([`${folder}d/e.csv`]);
    expect((await store.list(key("list-nothing/"))).objects).toEqual([]);
    await expect(store.list(folder, { limit: 0 })).rejects.toMatchObject({ code: "bad_request" });
  });

  it("deletes one key or many; keys without an object are no error", async () => {
    const names = [key("del/1.csv"), key("del/2.csv"), key("del/3.csv")];
    for (const name of names) await store.put(name, "x", { contentType: "text/csv" });
    await store.delete(names[0] as string);
    expect(await store.head(names[0] as string)).toBeNull();
    await store.delete([names[1] as string, names[2] as string, key("del/never-there.csv")]);
    expect((await store.list(key("del/"))).objects).toEqual([]);
    await expect(store.readRange(names[2] as string, 0, 0)).rejects.toThrow(ObjectNotFoundError);
    await store.delete([]);
  });

  it("refuses to replace an object unless told to overwrite", async () => {
    const name = key("overwrite.csv");
    const first = await store.put(name, "first version", { contentType: "text/csv" });
    await expect(store.put(name, "second", { contentType: "text/csv" })).rejects.toThrow(ObjectExistsError);
    expect((await store.readRange(name, 0, 100)).toString()).toBe("first version");
    const second = await store.put(name, "second", { contentType: "text/plain", overwrite: true });
    expect(second.etag).not.toBe(first.etag);
    expect((await store.readRange(name, 0, 100)).toString()).toBe("second");
    expect(await store.head(name)).toMatchObject({ size: 6, contentType: "text/plain", etag: second.etag });
  });

  it.each(REFUSED_KEYS)("refuses a traversal or malformed key before any request: %s", async (_reason, bad) => {
    const requests = server.stats().requests;
    const refusals = [
      store.put(bad, "x", { contentType: "text/plain" }),
      store.head(bad),
      store.readRange(bad, 0, 1),
      store.read(bad),
      store.delete([key("fine.csv"), bad]),
    ];
    for (const refusal of refusals) await expect(refusal).rejects.toThrow(InvalidObjectKeyError);
    if (bad !== "") await expect(store.list(`${bad}/`)).rejects.toThrow(InvalidObjectKeyError);
    expect(server.stats().requests).toBe(requests);
  });

  it("retries transient failures a bounded number of times (the SDK's own retries are off)", async () => {
    const name = key("retry.csv");
    let requests = server.stats().requests;
    server.failNext(2, 503);
    await store.put(name, "retried", { contentType: "text/csv" });
    expect(server.stats().requests - requests).toBe(3);

    requests = server.stats().requests;
    server.failNext(1, 500);
    expect((await store.readRange(name, 0, 6)).toString()).toBe("retried");
    // "blob-url": the url is known from the put, so the read is one GET (+1 failed).
    expect(server.stats().requests - requests).toBe(2);

    requests = server.stats().requests;
    server.failNext(1, 429);
    expect(await store.head(name)).toMatchObject({ size: 7 });
    expect(server.stats().requests - requests).toBe(2);

    requests = server.stats().requests;
    server.failNext(100, 503);
    await expect(store.head(name)).rejects.toThrow(StorageUnavailableError);
    expect(server.stats().requests - requests).toBe(FAST_RETRY.attempts);
    server.failNext(0);

    // The answer to a put lost after the store wrote it: the retry meets "already
    // exists" and recognises its own object (a fresh key, the same size).
    server.loseNextAnswers(1);
    const lost = await store.put(key("lost-answer.csv"), "written once", { contentType: "text/csv" });
    expect(lost).toMatchObject({ key: key("lost-answer.csv"), contentType: "text/csv" });
    expect((await store.readRange(key("lost-answer.csv"), 0, 100)).toString()).toBe("written once");
    // But an object of another size under the key, met on a retry, is still a conflict.
    server.failNext(1, 503);
    await expect(store.put(key("lost-answer.csv"), "different", { contentType: "text/csv" })).rejects.toThrow(
      ObjectExistsError,
    );

    // A stream cannot be sent twice: one attempt only.
    requests = server.stats().requests;
    server.failNext(1, 503);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(Buffer.from("once"));
        controller.close();
      },
    });
    await expect(store.put(key("retry-stream.bin"), stream, { contentType: "text/plain" })).rejects.toThrow(
      StorageUnavailableError,
    );
    expect(server.stats().requests - requests).toBe(1);
  });

  it("reports a refused token as a configuration problem, and pings", async () => {
    await store.ping();
    const wrong = createBlobObjectStore({
      token: `vercel_blob_rw_${server.storeId}_${"0".repeat(48)}`,
      apiUrl: server.url,
      reads,
      retry: FAST_RETRY,
    });
    await expect(wrong.head(key("head.csv"))).rejects.toThrow(StorageRefusedError);
    await expect(wrong.readRange(key("head.csv"), 0, 1)).rejects.toMatchObject({ code: "misconfigured" });
    await expect(wrong.ping()).rejects.toThrow(StorageRefusedError);
  });
});

describe("an adapter whose SDK settings point elsewhere", () => {
  it("refuses to run rather than talk to another Blob API", async () => {
    const store = createBlobObjectStore({ token: server.token, apiUrl: null });
    await expect(store.head("imports/x.csv")).rejects.toThrow(/not set up for this store/);
  });
});

// ── client uploads ──────────────────────────────────────────────────────────

describe("client tokens and the upload-completed callback", () => {
  let app: Server;
  let appUrl: string;
  const callbacks: Array<{ raw: string; signature: string }> = [];
  const completed: unknown[] = [];

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      let text = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => (text += chunk));
      req.once("end", () => resolve(text));
      req.once("error", reject);
    });

  /** The app's upload route as /api/uploads will be: handleUpload() with the rw token passed explicitly. */
  const handle = (body: HandleUploadBody, request: IncomingMessage | Request) =>
    handleUpload({
      token: server.token,
      request,
      body,
      onBeforeGenerateToken: async () => ({
        allowedContentTypes: ["text/csv", "application/octet-stream"],
        maximumSizeInBytes: 20 * MiB,
        tokenPayload: JSON.stringify({ store_id: 7 }),
        callbackUrl: `${appUrl}/api/uploads`,
      }),
      onUploadCompleted: async (payload) => {
        completed.push(payload);
      },
    });

  beforeAll(async () => {
    app = createServer((req, res) => {
      readBody(req)
        .then(async (raw) => {
          const body = JSON.parse(raw) as HandleUploadBody;
          if (body.type === "blob.upload-completed") {
            callbacks.push({ raw, signature: String(req.headers["x-vercel-signature"] ?? "") });
          }
          const result = await handle(body, req);
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result));
        })
        .catch((error: unknown) => {
          res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: String(error) }));
        });
    });
    appUrl = `http://127.0.0.1:${await listenOn(app, 0, "127.0.0.1")}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => app.close(() => resolve()));
  });

  const token = (claims: Partial<Parameters<typeof generateClientTokenFromReadWriteToken>[0]> & { pathname: string }) =>
    generateClientTokenFromReadWriteToken({ token: server.token, validUntil: Date.now() + 60_000, ...claims });

  it("uploads with a valid client token and refuses a forged one (401) or an expired one (403)", async () => {
    const pathname = newImportKey("orders.csv");
    const valid = await token({ pathname, allowedContentTypes: ["text/csv"] });
    const result = await clientPut(pathname, TEXT, { access: "private", token: valid, contentType: "text/csv" });
    expect(result.pathname).toBe(pathname);

    // Signed with another secret for the same store: the HMAC does not match.
    const forged = await generateClientTokenFromReadWriteToken({
      token: `vercel_blob_rw_${server.storeId}_${"f".repeat(48)}`,
      pathname,
      validUntil: Date.now() + 60_000,
    });
    const other = newImportKey("forged.csv");
    const raw = await fetch(`${server.url}/?pathname=${encodeURIComponent(pathname)}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${forged}`, "x-vercel-blob-access": "private", "x-content-type": "text/csv" },
      body: "evil",
    });
    expect(raw.status).toBe(401);
    expect(await raw.json()).toMatchObject({ error: { code: "forbidden" } });
    await expect(clientPut(pathname, "evil", { access: "private", token: forged })).rejects.toThrow(BlobAccessError);
    // Tampered claims (another pathname) under a genuine signature: refused too.
    const tampered = retargetClientToken(valid, other);
    await expect(clientPut(other, "evil", { access: "private", token: tampered })).rejects.toThrow(BlobAccessError);

    const expired = await token({ pathname: other, validUntil: Date.now() - 1000 });
    const rawExpired = await fetch(`${server.url}/?pathname=${encodeURIComponent(other)}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${expired}`, "x-vercel-blob-access": "private" },
      body: "late",
    });
    expect(rawExpired.status).toBe(403);
    await expect(clientPut(other, "late", { access: "private", token: expired })).rejects.toThrow(
      BlobClientTokenExpiredError,
    );

    // Nothing of the refused uploads was stored, and the good one is intact.
    const store = createBlobObjectStore({ token: server.token, apiUrl: server.url, retry: FAST_RETRY });
    expect(await store.head(other)).toBeNull();
    expect((await store.readRange(pathname, 0, 1000)).toString()).toBe(TEXT);
  });

  it("holds a client upload to the token's pathname, content types and maximum size", async () => {
    const pathname = newImportKey("orders.csv");
    const scoped = await token({ pathname, allowedContentTypes: ["text/csv"], maximumSizeInBytes: 100 });
    await expect(clientPut(`${pathname}.other`, "x", { access: "private", token: scoped })).rejects.toThrow(
      BlobPathnameMismatchError,
    );
    await expect(
      clientPut(pathname, "x", { access: "private", token: scoped, contentType: "application/x-msdownload" }),
    ).rejects.toThrow(BlobContentTypeNotAllowedError);
    await expect(clientPut(pathname, "x".repeat(101), { access: "private", token: scoped })).rejects.toThrow(
      BlobFileTooLargeError,
    );
    // A client token may upload, not list or read.
    const listed = await fetch(`${server.url}/?limit=10`, { headers: { authorization: `Bearer ${scoped}` } });
    expect(listed.status).toBe(403);
    await clientPut(pathname, "x".repeat(100), { access: "private", token: scoped });
  });

  it("posts a signed upload-completed callback that handleUpload() accepts, and a tampered one is rejected", async () => {
    const pathname = newImportKey("orders.csv");
    const blob = await upload(pathname, TEXT, {
      access: "private",
      handleUploadUrl: `${appUrl}/api/uploads`,
      contentType: "text/csv",
    });
    expect(blob.pathname).toBe(pathname);
    await server.idle();
    expect(server.callbacks().at(-1)).toMatchObject({ pathname, state: "delivered", attempts: 1, lastStatus: 200 });
    expect(completed.at(-1)).toEqual({
      blob: expect.objectContaining({ pathname, contentType: "text/csv", url: blob.url, etag: blob.etag }),
      tokenPayload: JSON.stringify({ store_id: 7 }),
    });

    const { raw, signature } = callbacks.at(-1) as { raw: string; signature: string };
    // handleUpload() verifies JSON.stringify(parsed body): the stand-in sends exactly that.
    expect(JSON.stringify(JSON.parse(raw))).toBe(raw);
    expect(signature).toMatch(/^[0-9a-f]{64}$/);

    const headers = { "x-vercel-signature": signature, "content-type": "application/json" };
    const genuine = JSON.parse(raw) as HandleUploadBody;
    await expect(handle(genuine, new Request(`${appUrl}/api/uploads`, { method: "POST", headers }))).resolves.toEqual({
      type: "blob.upload-completed",
      response: "ok",
    });
    const tampered = JSON.parse(raw.replace(pathname, newImportKey("elsewhere.csv"))) as HandleUploadBody;
    await expect(handle(tampered, new Request(`${appUrl}/api/uploads`, { method: "POST", headers }))).rejects.toThrow(
      /Invalid callback signature/,
    );
    const resigned = { ...headers, "x-vercel-signature": "0".repeat(64) };
    await expect(handle(genuine, new Request(`${appUrl}/api/uploads`, { method: "POST", headers: resigned }))).rejects.toThrow(
      /Invalid callback signature/,
    );
  });

  it("runs a multipart client upload through to its callback", async () => {
    const pathname = newImportKey("big.csv");
    const bytes = randomBytes(9 * MiB);
    const before = completed.length;
    const blob = await upload(pathname, bytes, {
      access: "private",
      handleUploadUrl: `${appUrl}/api/uploads`,
      contentType: "application/octet-stream",
      multipart: true,
    });
    await server.idle();
    expect(completed.length).toBe(before + 1);
    expect(completed.at(-1)).toMatchObject({ blob: { pathname, etag: blob.etag } });
    const store = createBlobObjectStore({ token: server.token, apiUrl: server.url, retry: FAST_RETRY });
    expect(sha256(await store.readRange(pathname, 0, bytes.length - 1))).toBe(sha256(bytes));
  });
});

/** The same signature over claims with another pathname: what a forger could try. */
function retargetClientToken(token: string, pathname: string): string {
  const prefix = token.slice(0, token.lastIndexOf("_") + 1);
  const decoded = Buffer.from(token.slice(prefix.length), "base64").toString("utf8");
  const [signature, payload] = decoded.split(".") as [string, string];
  const claims = JSON.parse(Buffer.from(payload, "base64").toString("utf8")) as Record<string, unknown>;
  const forgedPayload = Buffer.from(JSON.stringify({ ...claims, pathname })).toString("base64");
  return `${prefix}${Buffer.from(`${signature}.${forgedPayload}`).toString("base64")}`;
}
