import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { newReadWriteToken, startBlobServer } from "../../dev/blob/server.js";
import { GET as health } from "../../api/health.js";
import { checkHealth } from "../../lib/health/index.js";
import { VERSION } from "../../lib/version.js";
import { installTestRuntime } from "../support/runtime.js";

describe("GET /api/health", () => {
  it("is public and reports each dependency with its latency", async () => {
    const { runtime, dispose } = installTestRuntime();
    try {
      // Opened first, as the dev server does at start: opening and migrating a fresh
      // PGlite can take longer than the check's 3 s timeout on a loaded machine.
      await runtime.database();
      const response = await health(new Request("http://localhost/api/health"));
      expect(response.status).toBe(200);
      const body = (await response.json()) as Awaited<ReturnType<typeof checkHealth>>;
      expect(body).toMatchObject({
        status: "ok",
        version: VERSION,
        down: [],
        checks: {
          db: { status: "ok" },
          kv: { status: "ok" },
          queue: { status: "not_configured" },
          storage: { status: "not_configured" },
        },
      });
      expect(body.checks.db).toHaveProperty("latency_ms");
    } finally {
      await dispose();
    }
  });

  it("answers 503 naming the dependency that is down, without internals", async () => {
    // A Postgres that refuses connections: nothing listens on port 1 of loopback.
    const { dispose } = installTestRuntime({ DATABASE_URL: "postgres://app:pw-do-not-leak@127.0.0.1:1/x" });
    try {
      const response = await health(new Request("http://localhost/api/health"));
      expect(response.status).toBe(503);
      const text = await response.text();
      expect(text).not.toContain("pw-do-not-leak");
      expect(text).not.toContain("127.0.0.1");
      expect(JSON.parse(text)).toMatchObject({
        status: "down",
        down: ["db"],
        checks: { db: { status: "down", error: "unreachable" } },
      });
    } finally {
      await dispose();
    }
  });

  it("probes object storage when it is configured, and says when it is down", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "dropflow-health-blob-"));
    const blob = await startBlobServer({ dataDir, token: newReadWriteToken() });
    const { dispose } = installTestRuntime({ BLOB_READ_WRITE_TOKEN: blob.token, VERCEL_BLOB_API_URL: blob.url });
    try {
      const up = await health(new Request("http://localhost/api/health"));
      expect(up.status).toBe(200);
      expect(await up.json()).toMatchObject({ checks: { storage: { status: "ok" } } });

      blob.failNext(1, 503); // one attempt only: health does not retry
      const down = await health(new Request("http://localhost/api/health"));
      expect(down.status).toBe(503);
      const text = await down.text();
      expect(text).not.toContain(blob.url);
      expect(JSON.parse(text)).toMatchObject({ down: ["storage"], checks: { storage: { status: "down" } } });
    } finally {
      await dispose();
      await blob.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("times out a dependency that never answers", async () => {
    const report = await checkHealth(
      "x",
      { db: () => new Promise(() => undefined), kv: null, queue: null, storage: null },
      50,
    );
    expect(report).toMatchObject({ status: "down", down: ["db"], checks: { db: { error: "no answer within 50 ms" } } });
  });
});
