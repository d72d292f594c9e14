/**
 * `npm run dev` as a process: start-up, logs, two servers side by side, the data
 * directory lock, refusing bad configuration, and a clean exit on SIGTERM.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startDevProcess, waitForOutput } from "../support/dev-process.js";

const tempDir = () => mkdtempSync(path.join(os.tmpdir(), "dropflow-dev-"));

describe("npm run dev", () => {
  it("serves health on embedded defaults, echoes the correlation id into the dev log, exits cleanly on SIGTERM", async () => {
    const dataDir = tempDir();
    const dev = startDevProcess({ DROPFLOW_DATA_DIR: dataDir });
    const base = await dev.ready;

    const response = await fetch(`${base}/api/health`, { headers: { "x-correlation-id": "abc" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-correlation-id")).toBe("abc");
    // Object storage is the embedded Blob stand-in, its files under the data directory.
    expect(await response.json()).toMatchObject({ checks: { storage: { status: "ok" }, queue: { status: "ok" } } });
    expect(existsSync(path.join(dataDir, "blobs", "objects"))).toBe(true);
    expect(dev.output()).toContain(`blob storage:   ${path.join(dataDir, "blobs")}`);
    await waitForOutput(dev, (out) => /\[INFO\] \[http\] \[health\] \[abc\] \[\d+ms\] GET \/api\/health 200/.test(out));

    // The generated token is printed once at start and stored under the data directory.
    const token = readFileSync(path.join(dataDir, "api-token"), "utf8").trim();
    expect(dev.output()).toContain(token);
    const stores = await fetch(`${base}/api/stores`, { headers: { authorization: `Bearer ${token}` } });
    expect(stores.status).toBe(200);
    expect(dev.output().split(token)).toHaveLength(2); // once, never in a log line

    expect(await dev.stop("SIGTERM")).toBe(0);
    expect(existsSync(path.join(dataDir, "pglite", "dropflow.lock"))).toBe(false);
  });

  it("writes JSON lines when LOG_FORMAT=json", async () => {
    const dev = startDevProcess({ DROPFLOW_DATA_DIR: tempDir(), LOG_FORMAT: "json" });
    const base = await dev.ready;
    await fetch(`${base}/api/health`, { headers: { "x-request-id": "json-1" } });
    await waitForOutput(dev, (out) => out.includes('"json-1"'));
    const line = dev
      .output()
      .split("\n")
      .find((l) => l.includes('"json-1"'));
    expect(JSON.parse(line as string)).toMatchObject({
      level: "info",
      service: "http",
      correlation_id: "json-1",
      method: "GET",
      path: "/api/health",
      status: 200,
    });
    expect(await dev.stop("SIGINT")).toBe(0);
  });

  // Three dev servers start here (each tsx, PGlite and the migrations): 25 s on a loaded 2-core machine.
  it("runs two servers side by side on their own data directories, and refuses a second on the same one", { timeout: 90_000 }, async () => {
    const dirA = tempDir();
    const dirB = tempDir();
    const a = startDevProcess({ DROPFLOW_DATA_DIR: dirA });
    const b = startDevProcess({ DROPFLOW_DATA_DIR: dirB });
    const [baseA, baseB] = await Promise.all([a.ready, b.ready]);
    expect(baseA).not.toBe(baseB);
    const tokenA = readFileSync(path.join(dirA, "api-token"), "utf8").trim();
    const tokenB = readFileSync(path.join(dirB, "api-token"), "utf8").trim();
    expect(tokenA).not.toBe(tokenB);
    expect((await fetch(`${baseA}/api/stores`, { headers: { authorization: `Bearer ${tokenA}` } })).status).toBe(200);
    expect((await fetch(`${baseB}/api/stores`, { headers: { authorization: `Bearer ${tokenA}` } })).status).toBe(401);

    const intruder = startDevProcess({ DROPFLOW_DATA_DIR: dirA });
    expect(await intruder.exited).not.toBe(0);
    // tsx runs the server in a child node process, so the holder is a descendant of `a`.
    expect(intruder.output()).toMatch(/data directory .* is in use by process \d+ on .* \(.*dev\/server\.ts/);
    expect(intruder.output()).toContain("DROPFLOW_DATA_DIR");

    // The refused server left the holder alone.
    expect((await fetch(`${baseA}/api/health`)).status).toBe(200);
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
  });

  it("exits non-zero naming an invalid variable", async () => {
    const dev = startDevProcess({ DROPFLOW_DATA_DIR: tempDir(), DATABASE_URL: "nonsense" });
    expect(await dev.exited).not.toBe(0);
    expect(dev.output()).toContain("DATABASE_URL: must be a postgres:// or postgresql:// URL");
    expect(dev.output()).not.toContain("nonsense");
  });

  it("fails closed on Vercel without a database or API tokens, naming them", async () => {
    const dev = startDevProcess({ DROPFLOW_DATA_DIR: tempDir(), VERCEL: "1" });
    expect(await dev.exited).not.toBe(0);
    expect(dev.output()).toContain("DATABASE_URL: is required in production");
    expect(dev.output()).toContain("DROPFLOW_API_TOKENS: is required in production");
  });
});
