/**
 * The Blob stand-in on the wire: what its read route answers (Range → 206 with the
 * exact bytes and Content-Range, 416, authentication of private blobs), the SDK calls
 * the adapter does not use (copy, folded list, delete by URL), files that survive a
 * restart, and running it standalone as local services mode does.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { copy, del, head, list, put } from "@vercel/blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BlobServer, newReadWriteToken, startBlobServer } from "../../dev/blob/server.js";
import { applyBlobSdkSettings, currentEnvironment } from "../../lib/config.js";
import { configureLogging } from "../../lib/log/index.js";
import { createBlobObjectStore } from "../../lib/storage/index.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BYTES = randomBytes(4096);

let server: BlobServer;
let dataDir: string;
let releaseSdk: () => void;
let token: string;

beforeAll(async () => {
  configureLogging({ level: "error", format: "json", stdout: false });
  dataDir = mkdtempSync(path.join(os.tmpdir(), "dropflow-blob-wire-"));
  token = newReadWriteToken();
  server = await startBlobServer({ dataDir, token });
  releaseSdk = applyBlobSdkSettings(server.url);
  await put("wire/data.bin", BYTES, { access: "private", token, contentType: "application/octet-stream" });
});

afterAll(async () => {
  releaseSdk?.();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const blobUrl = (pathname: string) => `${server.url}/blobs/${pathname}`;
const auth = () => ({ authorization: `Bearer ${token}` });

describe("the Blob stand-in's read route", () => {
  it("answers a Range with 206, the exact bytes and Content-Range", async () => {
    const response = await fetch(blobUrl("wire/data.bin"), { headers: { ...auth(), range: "bytes=10-19" } });
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe(`bytes 10-19/${BYTES.length}`);
    expect(response.headers.get("content-length")).toBe("10");
    expect(response.headers.get("accept-ranges")).toBe("bytes");
    expect(Buffer.from(await response.arrayBuffer()).equals(BYTES.subarray(10, 20))).toBe(true);

    const suffix = await fetch(blobUrl("wire/data.bin"), { headers: { ...auth(), range: "bytes=-16" } });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get("content-range")).toBe(`bytes ${BYTES.length - 16}-${BYTES.length - 1}/${BYTES.length}`);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(BYTES.subarray(-16))).toBe(true);

    const open = await fetch(blobUrl("wire/data.bin"), { headers: { ...auth(), range: "bytes=4000-" } });
    expect(open.headers.get("content-range")).toBe(`bytes 4000-4095/${BYTES.length}`);
    expect(Buffer.from(await open.arrayBuffer()).equals(BYTES.subarray(4000))).toBe(true);

    const clamped = await fetch(blobUrl("wire/data.bin"), { headers: { ...auth(), range: "bytes=4090-9999" } });
    expect(clamped.headers.get("content-range")).toBe(`bytes 4090-4095/${BYTES.length}`);
    expect((await clamped.arrayBuffer()).byteLength).toBe(6);
  });

  it("answers 416 for a range past the end, 200 for no range or several, 304 for a matching ETag", async () => {
    const past = await fetch(blobUrl("wire/data.bin"), { headers: { ...auth(), range: `bytes=${BYTES.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe(`bytes */${BYTES.length}`);
    await past.arrayBuffer();

    const whole = await fetch(blobUrl("wire/data.bin"), { headers: auth() });
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-type")).toBe("application/octet-stream");
    expect(Buffer.from(await whole.arrayBuffer()).equals(BYTES)).toBe(true);

    const several = await fetch(blobUrl("wire/data.bin"), { headers: { ...auth(), range: "bytes=0-1,5-6" } });
    expect(several.status).toBe(200);
    await several.arrayBuffer();

    const etag = whole.headers.get("etag") as string;
    const unchanged = await fetch(blobUrl("wire/data.bin"), { headers: { ...auth(), "if-none-match": etag } });
    expect(unchanged.status).toBe(304);

    const headOnly = await fetch(blobUrl("wire/data.bin"), { method: "HEAD", headers: auth() });
    expect(headOnly.headers.get("content-length")).toBe(String(BYTES.length));
  });

  it("serves a private blob only to the read-write token; missing and private look alike without it", async () => {
    expect((await fetch(blobUrl("wire/data.bin"))).status).toBe(403);
    expect((await fetch(blobUrl("wire/data.bin"), { headers: { authorization: "Bearer nope" } })).status).toBe(403);
    expect((await fetch(blobUrl("wire/missing.bin"))).status).toBe(403);
    expect((await fetch(blobUrl("wire/missing.bin"), { headers: auth() })).status).toBe(404);
    // A public blob needs no token.
    await put("wire/public.txt", "hello", { access: "public", token, contentType: "text/plain" });
    const open = await fetch(blobUrl("wire/public.txt"));
    expect(open.status).toBe(200);
    expect(await open.text()).toBe("hello");
  });

  it("refuses API calls without the token, with another store's id, or to routes it does not have", async () => {
    expect((await fetch(`${server.url}/?limit=1`)).status).toBe(401);
    const otherStore = await fetch(`${server.url}/?limit=1`, { headers: { ...auth(), "x-vercel-blob-store-id": "other" } });
    expect(otherStore.status).toBe(404);
    expect(await otherStore.json()).toMatchObject({ error: { code: "store_not_found" } });
    const rename = await fetch(`${server.url}/rename?pathname=a&fromUrl=b`, { method: "POST", headers: auth() });
    expect(rename.status).toBe(400);
    expect(await rename.json()).toMatchObject({ error: { code: "bad_request" } });
  });
});

describe("the Blob stand-in's API beyond the adapter", () => {
  it("copies, lists folded, heads and deletes by URL as the SDK does", async () => {
    const copied = await copy("wire/data.bin", "wire/copies/data-copy.bin", { access: "private", token });
    expect(copied.pathname).toBe("wire/copies/data-copy.bin");
    const info = await head(copied.url, { token });
    expect(info.size).toBe(BYTES.length);
    expect(info.uploadedAt).toBeInstanceOf(Date);

    const folded = await list({ token, prefix: "wire/", mode: "folded" });
    expect(folded.folders).toEqual(["wire/copies/"]);
    expect(folded.blobs.map((blob) => blob.pathname)).toEqual(["wire/data.bin", "wire/public.txt"]);

    await del([copied.url], { token });
    await expect(head("wire/copies/data-copy.bin", { token })).rejects.toThrow(/does not exist/);
  });

  it("adds a random suffix before the extension when asked", async () => {
    const result = await put("wire/suffixed.csv", "a", { access: "private", token, addRandomSuffix: true });
    expect(result.pathname).toMatch(/^wire\/suffixed-[A-Za-z0-9]+\.csv$/);
    expect(result.contentType).toBe("text/csv");
  });
});

describe("the Blob stand-in's files", () => {
  it("keeps blobs across a restart, named by hash on disk with a metadata sidecar", async () => {
    const objects = readdirSync(path.join(dataDir, "blobs", "objects"));
    expect(objects.some((name) => name.endsWith(".json"))).toBe(true);
    expect(objects.every((name) => /^[0-9a-f]{64}(-[0-9a-f]+|\.json)$/.test(name))).toBe(true);

    releaseSdk();
    await server.close();
    server = await startBlobServer({ dataDir, token });
    releaseSdk = applyBlobSdkSettings(server.url);
    const store = createBlobObjectStore({ token, apiUrl: server.url });
    expect((await store.readRange("wire/data.bin", 0, BYTES.length - 1)).equals(BYTES)).toBe(true);
    expect((await store.head("wire/data.bin"))?.size).toBe(BYTES.length);
  });

  it("runs standalone and prints the settings for the SDK", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dropflow-blob-cli-"));
    const child = spawn(process.execPath, ["--import", "tsx", "dev/blob/server.ts", "--data-dir", dir, "--token", token], {
      cwd: ROOT,
      env: currentEnvironment(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let output = "";
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout?.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          const match = /VERCEL_BLOB_API_URL=(\S+)/.exec(output);
          if (match && output.includes("BLOB_READ_WRITE_TOKEN=")) resolve(match[1] as string);
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}: ${output}`)));
      });
      expect(output).toContain(`BLOB_READ_WRITE_TOKEN=${token}`);
      const listed = await fetch(`${url}/?limit=1`, { headers: auth() });
      expect(listed.status).toBe(200);
      expect(existsSync(path.join(dir, "blobs", "objects"))).toBe(true);
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
