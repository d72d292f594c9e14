/**
 * POST /api/uploads end to end: the dev server in process with its embedded Blob
 * stand-in, a fresh real Postgres, and the real `upload()` of @vercel/blob/client run
 * from Node (handleUploadUrl absolute, the API token in `headers`) as a client would.
 * The token request needs the API bearer; the upload-completed callback needs Blob's
 * signature and records the upload; the recorded key then imports.
 */
import { createHmac, randomUUID } from "node:crypto";
import { BlobContentTypeNotAllowedError, BlobError, BlobFileTooLargeError } from "@vercel/blob";
import { upload } from "@vercel/blob/client";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../../dev/server.js";
import { queryRows } from "../../lib/db/client.js";
import { newImportKey } from "../../lib/storage/index.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { availablePostgres } from "../support/databases.js";
import { waitForImport } from "../support/job-status.js";
import { purchasesCsvOfSize } from "../support/purchases-csv.js";

const TOKEN = "uploads-test-token-0123456789";
const MiB = 1024 * 1024;
const MAX_UPLOAD = 6 * MiB;
const postgres = availablePostgres();

describe.skipIf(!postgres)("POST /api/uploads (Vercel Blob client uploads)", () => {
  let app: AppServer;
  let server: DevServer;

  beforeAll(async () => {
    app = await startAppServer(
      TOKEN,
      {
        DROPFLOW_MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
        DROPFLOW_CHUNK_ROWS: "4000",
        DROPFLOW_MAX_DURATION_S: "20",
        DROPFLOW_DEADLINE_MARGIN_S: "1",
        LOG_LEVEL: "error",
      },
    );
    server = app.server;
  });
  afterAll(() => app?.close());

  const handleUploadUrl = () => `${app.base}/api/uploads`;
  const recorded = async () => {
    const { db } = await server.runtime.database();
    return queryRows<{ key: string; name: string; size: number; content_type: string; source: string }>(
      db,
      sql`select key, name, size::int as size, content_type, source from uploads order by recorded_at`,
    );
  };
  const tokenRequest = (pathname: string) =>
    JSON.stringify({ type: "blob.generate-client-token", payload: { pathname, clientPayload: null, multipart: false } });

  it("uploads a file of a few MB with the real upload(), records it from the signed callback, then imports it by key", async () => {
    const csv = purchasesCsvOfSize(3 * MiB);
    const bytes = Buffer.from(csv.text);
    const key = newImportKey("Orders March.csv");
    const blob = await upload(key, bytes, {
      access: "private",
      handleUploadUrl: handleUploadUrl(),
      headers: { authorization: `Bearer ${TOKEN}` },
      contentType: "text/csv",
      clientPayload: JSON.stringify({ name: "Orders March.csv" }),
    });
    expect(blob.pathname).toBe(key);
    await server.blob?.idle();
    expect(server.blob?.callbacks().at(-1)).toMatchObject({
      url: handleUploadUrl(),
      pathname: key,
      state: "delivered",
      attempts: 1,
      lastStatus: 200,
    });
    expect(await recorded()).toEqual([
      { key, name: "Orders March.csv", size: bytes.length, content_type: "text/csv", source: "client" },
    ]);

    const created = await app.api("/api/imports", {
      method: "POST",
      body: JSON.stringify({ file_type: "purchases", files: [{ key, name: "Orders March.csv" }] }),
    });
    expect(created.status).toBe(202);
    const { job_id } = (await created.json()) as { job_id: string };
    const status = await waitForImport<{ status: string; counts: Record<string, number>; files: unknown[] }>(app, job_id, {
      timeoutMs: 90_000,
    });
    expect(status.status).toBe("completed");
    expect(status.counts).toMatchObject({ rows: csv.rows, row_errors: 0, orders_inserted: csv.rows });
    expect(status.files).toEqual([expect.objectContaining({ name: "Orders March.csv", size: bytes.length, status: "completed" })]);
  });

  it("refuses a token request without the API token or with a wrong one (401), and nothing is stored", async () => {
    const key = newImportKey("orders.csv");
    const none = await fetch(handleUploadUrl(), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: tokenRequest(key),
    });
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { code: "unauthorized" } });
    const wrong = await fetch(handleUploadUrl(), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer not-the-token-0123456789" },
      body: tokenRequest(key),
    });
    expect(wrong.status).toBe(401);

    const options = { access: "private" as const, handleUploadUrl: handleUploadUrl(), contentType: "text/csv" };
    await expect(upload(key, "a,b\r\n1,2\r\n", options)).rejects.toThrow(BlobError);
    await expect(
      upload(key, "a,b\r\n1,2\r\n", { ...options, headers: { authorization: "Bearer not-the-token-0123456789" } }),
    ).rejects.toThrow(/retrieve the client token/);
    expect(await server.runtime.objectStore().head(key)).toBeNull();
  });

  it("refuses a file over DROPFLOW_MAX_UPLOAD_BYTES and a content type that is not CSV", async () => {
    const before = await recorded();
    const options = {
      access: "private" as const,
      handleUploadUrl: handleUploadUrl(),
      headers: { authorization: `Bearer ${TOKEN}` },
    };
    const big = newImportKey("big.csv");
    await expect(upload(big, Buffer.alloc(MAX_UPLOAD + 1, 0x61), { ...options, contentType: "text/csv" })).rejects.toThrow(
      BlobFileTooLargeError,
    );
    // Exactly the limit is allowed.
    const edge = newImportKey("edge.csv");
    await upload(edge, Buffer.alloc(MAX_UPLOAD, 0x61), { ...options, contentType: "text/csv" });

    for (const contentType of ["application/pdf", "image/png", "application/octet-stream", "text/html"]) {
      const key = newImportKey("orders.csv");
      await expect(upload(key, "a,b\r\n1,2\r\n", { ...options, contentType }), contentType).rejects.toThrow(
        BlobContentTypeNotAllowedError,
      );
      expect(await server.runtime.objectStore().head(key)).toBeNull();
    }
    // CSV as Windows browsers with Excel report it is fine, as is no type at all (inferred from .csv).
    await upload(newImportKey("excel.csv"), "a,b\r\n", { ...options, contentType: "application/vnd.ms-excel" });
    await upload(newImportKey("untyped.csv"), "a,b\r\n", options);
    await server.blob?.idle();
    expect(await server.runtime.objectStore().head(big)).toBeNull();
    const added = (await recorded()).slice(before.length);
    expect(added.map((row) => [row.name, row.content_type])).toEqual([
      ["edge.csv", "text/csv"],
      ["excel.csv", "application/vnd.ms-excel"],
      ["untyped.csv", "text/csv"],
    ]);
  });

  it("refuses a pathname that is not a new import key, naming payload.pathname", async () => {
    for (const pathname of [
      "orders.csv",
      "imports/orders.csv",
      `imports/${randomUUID()}/../../etc/passwd`,
      `imports/${randomUUID()}/has space.csv`,
      `imports/${randomUUID().toUpperCase()}/orders.csv`,
      `other/${randomUUID()}/orders.csv`,
    ]) {
      const response = await app.api("/api/uploads", { method: "POST", body: tokenRequest(pathname) });
      expect(response.status, pathname).toBe(400);
      const problem = (await response.json()) as { error: { fields: Array<{ field: string }> } };
      expect(problem.error.fields.map((f) => f.field)).toEqual(["payload.pathname"]);
    }
    const malformed = await app.api("/api/uploads", { method: "POST", body: JSON.stringify({ type: "blob.other" }) });
    expect(malformed.status).toBe(400);
  });

  it("refuses a forged upload-completed callback (wrong or missing signature) and records nothing", async () => {
    // A real object, stored but never recorded: only a genuine callback may record it.
    const key = newImportKey("forged.csv");
    await server.runtime.objectStore().put(key, "a,b\r\n1,2\r\n", { contentType: "text/csv" });
    const before = await recorded();
    const info = await server.runtime.objectStore().head(key);
    const body = JSON.stringify({
      type: "blob.upload-completed",
      payload: {
        blob: {
          url: `${server.blob?.url}/blobs/${key}`,
          downloadUrl: `${server.blob?.url}/blobs/${key}?download=1`,
          pathname: key,
          contentType: "text/csv",
          contentDisposition: 'attachment; filename="forged.csv"',
          etag: info?.etag,
        },
        tokenPayload: JSON.stringify({ name: "forged.csv" }),
      },
    });
    const sign = (secret: string) => createHmac("sha256", secret).update(body).digest("hex");
    const post = (headers: Record<string, string>) =>
      fetch(handleUploadUrl(), { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

    const forged = await post({ "x-vercel-signature": sign("vercel_blob_rw_local_not-the-store-token") });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: { code: "unauthorized" } });
    expect((await post({ "x-vercel-signature": "0".repeat(64) })).status).toBe(401);
    expect((await post({ "x-vercel-signature": "zz" })).status).toBe(401);
    // No signature: without a bearer it is an unauthenticated token request; with one, still no callback.
    expect((await post({})).status).toBe(401);
    expect((await post({ authorization: `Bearer ${TOKEN}` })).status).toBe(401);
    // Tampered after signing: the signature covers the body.
    const tampered = await fetch(handleUploadUrl(), {
      method: "POST",
      headers: { "content-type": "application/json", "x-vercel-signature": sign(server.blob?.token ?? "") },
      body: body.replace("forged.csv\\\"}", "other.csv\\\"}"),
    });
    expect(tampered.status).toBe(401);
    expect(await recorded()).toEqual(before);

    // The same callback signed with the store's token is what Blob sends: accepted and recorded.
    const genuine = await post({ "x-vercel-signature": sign(server.blob?.token ?? "") });
    expect(genuine.status).toBe(200);
    expect(await genuine.json()).toEqual({ type: "blob.upload-completed", response: "ok" });
    expect((await recorded()).slice(before.length)).toEqual([
      { key, name: "forged.csv", size: 10, content_type: "text/csv", source: "client" },
    ]);
  });
});
