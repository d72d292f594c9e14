/**
 * What a browser needs for client uploads, which a Node client gets from its
 * environment: GET /api/uploads names the Blob API to send the bytes to and the size
 * limit, and the Blob stand-in answers CORS as Vercel's API does, so a page on the
 * app's origin may call it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { availablePostgres } from "../support/databases.js";

const TOKEN = "upload-settings-token-0123456789";
const postgres = availablePostgres();

describe.skipIf(!postgres)("upload settings and the Blob stand-in's CORS", () => {
  let app: AppServer;

  beforeAll(async () => {
    app = await startAppServer(TOKEN, { DROPFLOW_MAX_UPLOAD_BYTES: String(5 * 1024 * 1024) }, { simulators: false });
  });
  afterAll(() => app?.close());

  it("GET /api/uploads names the dev server's Blob stand-in and the size limit, for the API bearer only", async () => {
    const answer = await app.api("/api/uploads");
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ blob_api_url: app.server.blob?.url, max_upload_bytes: 5 * 1024 * 1024 });

    const anonymous = await fetch(`${app.base}/api/uploads`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
  });

  it("the stand-in answers a browser's preflight for an upload with the headers it asked for", async () => {
    const blobUrl = app.server.blob?.url as string;
    const before = app.server.blob?.stats().requests ?? 0;
    const preflight = await fetch(`${blobUrl}/mpu?pathname=imports%2Fx%2Fa.csv`, {
      method: "OPTIONS",
      headers: {
        origin: app.base,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,x-mpu-action,x-vercel-blob-access,x-api-version",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-methods")).toContain("POST");
    expect(preflight.headers.get("access-control-allow-methods")).toContain("PUT");
    expect(preflight.headers.get("access-control-allow-headers")).toBe("authorization,x-mpu-action,x-vercel-blob-access,x-api-version");
    // A preflight is no call of the API: the stand-in counted nothing.
    expect(app.server.blob?.stats().requests).toBe(before);

    // Its answers, errors included, are readable from another origin too.
    const refused = await fetch(`${blobUrl}/?pathname=imports%2Fx%2Fa.csv`, { method: "PUT", headers: { origin: app.base }, body: "a" });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe("*");
    expect(app.server.blob?.stats().requests).toBe(before + 1);
  });
});
