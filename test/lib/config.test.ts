import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  applyBlobSdkSettings,
  ConfigError,
  currentBlobSdkApiUrl,
  currentEnvironment,
  loadConfig,
} from "../../lib/config.js";

const TOKEN = "t".repeat(32);
const SECRET = "s".repeat(32);
const BLOB_TOKEN = "vercel_blob_rw_AbCdEf123_0123456789abcdefghij";
/** Everything production needs. */
const PRODUCTION = {
  VERCEL: "1",
  DATABASE_URL: "postgres://u:p@h/db",
  DROPFLOW_API_TOKENS: TOKEN,
  CRON_SECRET: SECRET,
  UPSTASH_REDIS_REST_URL: "https://eu1-x.upstash.io",
  UPSTASH_REDIS_REST_TOKEN: "upstash-token",
  QSTASH_TOKEN: "qstash-token",
  QSTASH_CURRENT_SIGNING_KEY: "sig_current",
  QSTASH_NEXT_SIGNING_KEY: "sig_next",
  BLOB_READ_WRITE_TOKEN: BLOB_TOKEN,
  PUBLIC_BASE_URL: "https://dropflow.example.com/",
  DROPFLOW_WEBHOOK_SECRET: "w".repeat(32),
};

function configError(env: Record<string, string>, options?: Parameters<typeof loadConfig>[1]): ConfigError {
  try {
    loadConfig(env, options);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("runs on embedded defaults with nothing set", () => {
    const config = loadConfig({}, { cwd: "/srv/app" });
    expect(config.port).toBe(3000);
    expect(config.dataDir).toBe("/srv/app/.data");
    expect(config.database).toEqual({ driver: "pglite", dataDir: "/srv/app/.data/pglite" });
    expect(config.production).toBe(false);
    expect(config.apiTokens).toEqual([]);
    expect(config.log).toEqual({ level: "info", format: "pretty" });
  });

  it("reads the upload limit (1 GiB by default) and the webhook secret (generated outside production)", () => {
    expect(loadConfig({}).maxUploadBytes).toBe(1024 ** 3);
    expect(loadConfig({}).webhookSecret).toBeNull();
    expect(loadConfig({ DROPFLOW_MAX_UPLOAD_BYTES: "8388608" }).maxUploadBytes).toBe(8 * 1024 * 1024);
    const bad = configError({ DROPFLOW_MAX_UPLOAD_BYTES: "1.5", DROPFLOW_WEBHOOK_SECRET: "short" });
    expect(bad.issues.map((issue) => issue.variable).sort()).toEqual(["DROPFLOW_MAX_UPLOAD_BYTES", "DROPFLOW_WEBHOOK_SECRET"]);
    expect(bad.message).not.toContain("short");
    expect(loadConfig(PRODUCTION).webhookSecret).toBe("w".repeat(32));
  });

  it("reads the create-time hashing budget of POST /api/imports (256 MiB by default, 0 turns it off)", () => {
    expect(loadConfig({}).importHashBudgetBytes).toBe(256 * 1024 * 1024);
    expect(loadConfig({ DROPFLOW_IMPORT_HASH_BUDGET_BYTES: "0" }).importHashBudgetBytes).toBe(0);
    expect(loadConfig({ DROPFLOW_IMPORT_HASH_BUDGET_BYTES: "1048576" }).importHashBudgetBytes).toBe(1024 * 1024);
    for (const bad of ["-1", "1.5", "lots"]) {
      expect(configError({ DROPFLOW_IMPORT_HASH_BUDGET_BYTES: bad }).issues.map((issue) => issue.variable), bad).toEqual([
        "DROPFLOW_IMPORT_HASH_BUDGET_BYTES",
      ]);
    }
  });

  it("chooses the Postgres driver from the URL and DROPFLOW_PG_DRIVER", () => {
    expect(loadConfig({ DATABASE_URL: "postgres://u:p@db.internal:5432/x" }).database.driver).toBe("pg");
    expect(loadConfig({ DATABASE_URL: "postgresql://u:p@ep-cool-1.eu-central-1.aws.neon.tech/db" }).database).toEqual({
      driver: "neon",
      url: "postgresql://u:p@ep-cool-1.eu-central-1.aws.neon.tech/db",
      wsProxy: null,
    });
    expect(
      loadConfig({
        DATABASE_URL: "postgres://u@127.0.0.1:5432/x",
        DROPFLOW_PG_DRIVER: "neon",
        DROPFLOW_NEON_WSPROXY: "127.0.0.1:9000/v2",
      }).database,
    ).toEqual({ driver: "neon", url: "postgres://u@127.0.0.1:5432/x", wsProxy: "127.0.0.1:9000/v2" });
  });

  it("keeps each data directory apart, relative to the working directory", () => {
    const config = loadConfig({ DROPFLOW_DATA_DIR: "tmp/a", PORT: "3001" }, { cwd: "/w" });
    expect(config.dataDir).toBe(path.resolve("/w/tmp/a"));
    expect(config.port).toBe(3001);
  });

  it("accepts several API tokens for rotation", () => {
    const other = "u".repeat(20);
    expect(loadConfig({ DROPFLOW_API_TOKENS: ` ${TOKEN}, ${other} ` }).apiTokens).toEqual([TOKEN, other]);
  });

  it("names every invalid variable in one message, without echoing values", () => {
    const error = configError({
      DATABASE_URL: "nonsense",
      PORT: "http",
      LOG_LEVEL: "chatty",
      DROPFLOW_API_TOKENS: "short",
      CRON_SECRET: "tiny",
    });
    expect(error.issues.map((issue) => issue.variable).sort()).toEqual([
      "CRON_SECRET",
      "DATABASE_URL",
      "DROPFLOW_API_TOKENS",
      "LOG_LEVEL",
      "PORT",
    ]);
    expect(error.message).toContain("DATABASE_URL: must be a postgres:// or postgresql:// URL");
    expect(error.message).toContain('LOG_LEVEL: must be one of "debug", "info", "warn", "error", "silent"');
    expect(error.message).not.toContain("nonsense");
    expect(error.message).not.toContain("tiny");
  });

  it("fails closed on Vercel: no embedded database, KV, queue or storage, no generated token", () => {
    const error = configError({ VERCEL: "1" });
    expect(error.issues.map((issue) => issue.variable)).toEqual([
      "DATABASE_URL",
      "DROPFLOW_API_TOKENS",
      "CRON_SECRET",
      "DROPFLOW_WEBHOOK_SECRET",
      "UPSTASH_REDIS_REST_URL",
      "QSTASH_TOKEN",
      "QSTASH_CURRENT_SIGNING_KEY",
      "QSTASH_NEXT_SIGNING_KEY",
      "BLOB_READ_WRITE_TOKEN",
      "PUBLIC_BASE_URL",
    ]);
    expect(configError({ NODE_ENV: "production", ...PRODUCTION, DATABASE_URL: "" }).issues).toHaveLength(1);
  });

  it("starts in production with everything set, logging JSON lines", () => {
    const config = loadConfig(PRODUCTION);
    expect(config.production).toBe(true);
    expect(config.log.format).toBe("json");
    expect(config.kv).toEqual({ driver: "upstash", url: "https://eu1-x.upstash.io", token: "upstash-token" });
    expect(config.queue).toMatchObject({ mode: "qstash", url: "https://qstash.upstash.io", token: "qstash-token" });
    expect(config.publicBaseUrl).toBe("https://dropflow.example.com");
    // Vercel's own API (the SDK's default): no VERCEL_BLOB_API_URL in production.
    expect(config.storage).toEqual({ mode: "blob", token: BLOB_TOKEN, apiUrl: null });
  });

  it("needs only the database for tools that serve nothing (migrations)", () => {
    expect(loadConfig({ VERCEL: "1", DATABASE_URL: "postgres://u@h/db" }, { serving: false }).production).toBe(true);
    expect(configError({ VERCEL: "1" }, { serving: false }).issues.map((issue) => issue.variable)).toEqual([
      "DATABASE_URL",
    ]);
  });

  it("reads Vercel's KV_REST_API_* names and embedded defaults for KV and queue", () => {
    expect(loadConfig({ KV_REST_API_URL: "https://kv.example", KV_REST_API_TOKEN: "t" }).kv).toEqual({
      driver: "upstash",
      url: "https://kv.example",
      token: "t",
    });
    expect(loadConfig({}).kv).toEqual({ driver: "memory" });
    expect(loadConfig({}).queue).toEqual({ mode: "embedded" });
    expect(configError({ QSTASH_TOKEN: "x" }).issues.map((i) => i.variable)).toEqual([
      "QSTASH_CURRENT_SIGNING_KEY",
      "QSTASH_NEXT_SIGNING_KEY",
    ]);
  });

  it("keeps leases longer than the function's maximum duration", () => {
    expect(loadConfig({}).jobs).toEqual({
      maxDurationMs: 300_000,
      deadlineMarginMs: 20_000,
      leaseMs: 360_000,
      stallMs: 900_000,
      chunkRows: 5000,
      workbookLimits: { maxSharedStringBytes: 96 * 1024 ** 2, maxPartBytes: 2048 * 1024 ** 2, maxRatio: 200 },
      chunkConcurrency: 4,
      reconcileChunkInvoices: 50_000,
    });
    expect(configError({ DROPFLOW_XLSX_MAX_RATIO: "1" }).issues[0]?.variable).toBe("DROPFLOW_XLSX_MAX_RATIO");
    expect(loadConfig({ DROPFLOW_MAX_DURATION_S: "2", DROPFLOW_DEADLINE_MARGIN_S: "0.5" }).jobs.leaseMs).toBe(62_000);
    expect(configError({ DROPFLOW_LEASE_S: "300" }).issues[0]?.variable).toBe("DROPFLOW_LEASE_S");
  });

  it("honours LOG_FORMAT=json in development and rejects a scheme in the Neon proxy", () => {
    expect(loadConfig({ LOG_FORMAT: "JSON" }).log.format).toBe("json");
    expect(configError({ DROPFLOW_NEON_WSPROXY: "ws://127.0.0.1:1/v2" }).issues[0]?.variable).toBe(
      "DROPFLOW_NEON_WSPROXY",
    );
  });

  it("chooses object storage: the embedded stand-in, Vercel Blob, or a Blob-compatible server", () => {
    expect(loadConfig({}).storage).toEqual({ mode: "embedded" });
    expect(loadConfig({ BLOB_READ_WRITE_TOKEN: BLOB_TOKEN }).storage).toEqual({
      mode: "blob",
      token: BLOB_TOKEN,
      apiUrl: null,
    });
    expect(
      loadConfig({ BLOB_READ_WRITE_TOKEN: BLOB_TOKEN, VERCEL_BLOB_API_URL: "http://127.0.0.1:4567/" }).storage,
    ).toEqual({ mode: "blob", token: BLOB_TOKEN, apiUrl: "http://127.0.0.1:4567" });
    // The stand-in's URL without the token to talk to it.
    expect(configError({ VERCEL_BLOB_API_URL: "http://127.0.0.1:4567" }).issues).toEqual([
      { variable: "BLOB_READ_WRITE_TOKEN", problem: expect.stringContaining("VERCEL_BLOB_API_URL") },
    ]);
    expect(configError({ ...PRODUCTION, BLOB_READ_WRITE_TOKEN: "" }).issues.map((issue) => issue.variable)).toEqual([
      "BLOB_READ_WRITE_TOKEN",
    ]);
    // Migrations store nothing.
    expect(loadConfig({ VERCEL: "1", DATABASE_URL: "postgres://u@h/db" }, { serving: false }).storage).toEqual({
      mode: "embedded",
    });
  });

  it("names a malformed Blob token or API URL without echoing it", () => {
    const malformed = ["vercel_blob_rw__secret", "vercel_blob_client_store_abc", "blob-token-do-not-leak", "vercel_blob_rw_store_"];
    for (const token of malformed) {
      const error = configError({ BLOB_READ_WRITE_TOKEN: token });
      expect(error.issues.map((issue) => issue.variable)).toEqual(["BLOB_READ_WRITE_TOKEN"]);
      expect(error.message).toContain("vercel_blob_rw_<store id>_<secret>");
      expect(error.message).not.toContain(token);
    }
    const error = configError({ BLOB_READ_WRITE_TOKEN: BLOB_TOKEN, VERCEL_BLOB_API_URL: "ftp://blob-host-do-not-leak" });
    expect(error.issues.map((issue) => issue.variable)).toEqual(["VERCEL_BLOB_API_URL"]);
    expect(error.message).not.toContain("blob-host-do-not-leak");
  });
});

describe("applyBlobSdkSettings", () => {
  it("points the SDK's environment at one Blob API, turns its own retries off, and restores both", () => {
    const before = currentEnvironment();
    const release = applyBlobSdkSettings("http://127.0.0.1:4567");
    expect(currentEnvironment().VERCEL_BLOB_API_URL).toBe("http://127.0.0.1:4567");
    expect(currentEnvironment().VERCEL_BLOB_RETRIES).toBe("0");
    expect(currentBlobSdkApiUrl()).toBe("http://127.0.0.1:4567");

    // A second holder of the same URL shares it; another URL in the same process is refused.
    const again = applyBlobSdkSettings("http://127.0.0.1:4567");
    expect(() => applyBlobSdkSettings("http://127.0.0.1:9999")).toThrow(/one Blob API at a time/);
    expect(() => applyBlobSdkSettings(null)).toThrow(/one Blob API at a time/);
    release();
    release(); // twice is once
    expect(currentEnvironment().VERCEL_BLOB_API_URL).toBe("http://127.0.0.1:4567");
    again();
    expect(currentBlobSdkApiUrl()).toBeUndefined();
    expect(currentEnvironment().VERCEL_BLOB_API_URL).toBe(before.VERCEL_BLOB_API_URL);
    expect(currentEnvironment().VERCEL_BLOB_RETRIES).toBe(before.VERCEL_BLOB_RETRIES);

    // Vercel's API: the variable is removed, so the SDK uses its default.
    const vercel = applyBlobSdkSettings(null);
    expect(currentEnvironment().VERCEL_BLOB_API_URL).toBeUndefined();
    expect(currentBlobSdkApiUrl()).toBeNull();
    vercel();
  });
});
