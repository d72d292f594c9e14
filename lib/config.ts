/**
 * The one place that reads the environment. Every variable dropflow understands is
 * in `EnvSchema`; everything else gets a typed `Config` from `loadConfig()`.
 *
 * Production fails closed: on Vercel (`VERCEL=1`) or with `NODE_ENV=production`
 * there is no embedded database and no generated API token, so a missing setting
 * stops start-up instead of silently running on a laptop default.
 */
import path from "node:path";
import { z } from "zod";

export type Environment = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = "json" | "pretty";

/** Hosts whose Postgres speaks only through Neon's WebSocket/HTTP proxy in serverless use. */
const NEON_HOST_SUFFIXES = [".neon.tech", ".neon.build"];

const emptyAsUndefined = (value: unknown) => (typeof value === "string" && value.trim() === "" ? undefined : value);

const optionalString = z.preprocess(emptyAsUndefined, z.string().trim().optional());

/** A URL with one of `protocols` and a host; its value is never echoed in errors. */
const urlOf = (protocols: string[], message: string) =>
  z
    .string()
    .trim()
    .refine(
      (value) => {
        try {
          const url = new URL(value);
          return protocols.includes(url.protocol) && url.hostname !== "";
        } catch (error) {
          if (error instanceof TypeError) return false; // not a URL at all
          throw error;
        }
      },
      { message },
    );

const postgresUrl = z.preprocess(
  emptyAsUndefined,
  urlOf(["postgres:", "postgresql:"], "must be a postgres:// or postgresql:// URL with a host").optional(),
);

const secret = (minLength: number) =>
  z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .trim()
      .min(minLength, { message: `must be at least ${minLength} characters` })
      .refine((value) => !/\s/.test(value), { message: "must not contain whitespace" })
      .optional(),
  );

const tokenList = z.preprocess(
  emptyAsUndefined,
  z
    .string()
    .transform((value) =>
      value
        .split(",")
        .map((token) => token.trim())
        .filter((token) => token !== ""),
    )
    .refine((tokens) => tokens.every((token) => token.length >= 16 && !/\s/.test(token)), {
      message: "each comma-separated token must be at least 16 characters without whitespace",
    })
    .optional(),
);

const httpUrl = z.preprocess(
  emptyAsUndefined,
  urlOf(["http:", "https:"], "must be an http(s) URL")
    .transform((value) => value.replace(/\/+$/, ""))
    .optional(),
);

/**
 * A Vercel Blob read-write token, `vercel_blob_rw_<storeId>_<secret>`. The SDK takes the
 * store id from the fourth `_`-separated field (client tokens and private reads need
 * it), so that field must be non-empty.
 */
const blobToken = z.preprocess(
  emptyAsUndefined,
  z
    .string()
    .trim()
    .refine(
      (value) => {
        const [vercel, blob, rw, storeId, ...secret] = value.split("_");
        const prefixed = vercel === "vercel" && blob === "blob" && rw === "rw";
        return prefixed && Boolean(storeId) && secret.join("_") !== "" && !/\s/.test(value);
      },
      { message: "must be a Vercel Blob read-write token (vercel_blob_rw_<store id>_<secret>)" },
    )
    .optional(),
);

/** DROPFLOW_MAX_UPLOAD_BYTES when unset: 1 GiB. */
export const DEFAULT_MAX_UPLOAD_BYTES = 1024 ** 3;
/**
 * DROPFLOW_IMPORT_HASH_BUDGET_BYTES when unset: 256 MiB. POST /api/imports refuses the
 * same content twice in one import (400 duplicate_content); a file whose SHA-256 was not
 * recorded at upload (and that could have a twin: another file of its size) is streamed
 * from storage and hashed in the request, and this bounds the bytes one request reads
 * that way. 256 MiB is seconds of reading at the tens of MB/s a function gets from Blob,
 * far inside maxDuration (300 s) and a small share of the 1 GiB one upload may be; past
 * it the files are left to the planner, which reads every file anyway and fails a twin
 * as `duplicate_file`. An operator on slow storage lowers it; 0 turns it off.
 */
export const DEFAULT_IMPORT_HASH_BUDGET_BYTES = 256 * 1024 ** 2;
/**
 * Invoices per reconcile chunk by default, measured (README, "Figures"): at 1 M purchases
 * 5,000 took 98.6 s, 20,000 took 53.6 s and 50,000 took 36.3 s end to end. A chunk is
 * one statement that cannot stop at its deadline, so it must fit the 300 s maxDuration:
 * at 1 M the whole 50,000-invoice run took 36 s; 50,000 has not been run at 10 M.
 */
export const RECONCILE_CHUNK_INVOICES = 50_000;
/** Vercel Blob's largest object (multipart), 5 TB. */
const MAX_CLIENT_UPLOAD_BYTES = 5 * 1000 ** 4;

/** One eMAG account as EMAG_ACCOUNTS lists it; its rate limit defaults to eMAG's documented 3 req/s and 180/min. */
const EmagAccountEntry = z.object({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, { message: "must be 1-40 lowercase letters, digits, '-' or '_'" }),
  platform_url: urlOf(["http:", "https:"], "must be an http(s) URL (e.g. https://marketplace-api.emag.ro/api-3)").transform(
    (value) => value.replace(/\/+$/, ""),
  ),
  username: z.string().min(1),
  password: z.string().min(1),
  rate_per_s: z.number().positive().max(100).default(3),
  rate_per_min: z.number().positive().max(6000).default(180),
});

const emagAccounts = z.preprocess(
  emptyAsUndefined,
  z
    .string()
    .transform((value, ctx) => {
      try {
        return JSON.parse(value) as unknown;
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        ctx.addIssue({ code: "custom", message: "must be a JSON list of { name, platform_url, username, password }" });
        return z.NEVER;
      }
    })
    .pipe(
      z
        .array(EmagAccountEntry, { message: "must be a JSON list of { name, platform_url, username, password }" })
        .min(1)
        .refine((accounts) => new Set(accounts.map((account) => account.name)).size === accounts.length, {
          message: "must not name an account twice",
        }),
    )
    .optional(),
);

/** A duration in seconds; fractions allowed so tests can run the time knobs fast. */
const secondsSchema = () => z.coerce.number().positive({ message: "must be a positive number of seconds" });
const seconds = (fallback: number) => z.preprocess(emptyAsUndefined, secondsSchema().default(fallback));
const optionalSeconds = () => z.preprocess(emptyAsUndefined, secondsSchema().optional());

export const EnvSchema = z.object({
  NODE_ENV: z.preprocess(emptyAsUndefined, z.enum(["development", "test", "production"]).optional()),
  VERCEL: optionalString,
  PORT: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).max(65535).default(3000)),
  DROPFLOW_DATA_DIR: z.preprocess(emptyAsUndefined, z.string().default(".data")),
  DATABASE_URL: postgresUrl,
  DROPFLOW_PG_DRIVER: z.preprocess(emptyAsUndefined, z.enum(["auto", "pg", "neon"]).default("auto")),
  DROPFLOW_NEON_WSPROXY: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .trim()
      .refine((value) => !value.includes("://"), {
        message: "is host:port/path without a scheme (the Neon driver adds ws:// itself)",
      })
      .optional(),
  ),
  DROPFLOW_API_TOKENS: tokenList,
  CRON_SECRET: secret(16),
  /** The bearer of GET /api/metrics (what a Prometheus scrape config holds); unset: the route refuses every caller. */
  METRICS_TOKEN: secret(16),
  PUBLIC_BASE_URL: httpUrl,
  LOG_LEVEL: z.preprocess(
    (value) => (typeof value === "string" ? emptyAsUndefined(value.toLowerCase()) : value),
    z.enum(LOG_LEVELS).default("info"),
  ),
  UPSTASH_REDIS_REST_URL: httpUrl,
  UPSTASH_REDIS_REST_TOKEN: optionalString,
  // Vercel's KV / Upstash integration names the same two settings this way.
  KV_REST_API_URL: httpUrl,
  KV_REST_API_TOKEN: optionalString,
  QSTASH_URL: httpUrl,
  QSTASH_TOKEN: optionalString,
  QSTASH_CURRENT_SIGNING_KEY: optionalString,
  QSTASH_NEXT_SIGNING_KEY: optionalString,
  BLOB_READ_WRITE_TOKEN: blobToken,
  // Read by the @vercel/blob SDK itself; here so that it is validated and so that
  // applyBlobSdkSettings() can hand the same value to the SDK (see there).
  VERCEL_BLOB_API_URL: httpUrl,
  DROPFLOW_MAX_DURATION_S: seconds(300),
  DROPFLOW_DEADLINE_MARGIN_S: seconds(20),
  DROPFLOW_LEASE_S: optionalSeconds(),
  DROPFLOW_STALL_S: seconds(900),
  DROPFLOW_TEST_JOB_KINDS: z.preprocess(emptyAsUndefined, z.enum(["0", "1", "true", "false"]).optional()),
  DROPFLOW_FAULT_CRASH_AFTER_COMMIT: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).optional()),
  /** Counts only the commits of this job kind towards DROPFLOW_FAULT_CRASH_AFTER_COMMIT. */
  DROPFLOW_FAULT_CRASH_KIND: z.preprocess(emptyAsUndefined, z.string().max(50).optional()),
  DROPFLOW_CHUNK_ROWS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).max(1_000_000).default(5000)),
  /** .xlsx imports (docs/imports.md, "Excel workbooks"): the shared-string table a planner may hold. */
  DROPFLOW_XLSX_MAX_SHARED_STRINGS_MB: z.preprocess(emptyAsUndefined, z.coerce.number().positive().max(1024).default(96)),
  /** A workbook part (a sheet's XML), and the CSV a sheet converts to, may be at most this large. */
  DROPFLOW_XLSX_MAX_PART_MB: z.preprocess(emptyAsUndefined, z.coerce.number().positive().default(2048)),
  /** ...and inflate at most this many times its compressed size (zip bombs inflate thousands of times). */
  DROPFLOW_XLSX_MAX_RATIO: z.preprocess(emptyAsUndefined, z.coerce.number().min(2).default(200)),
  DROPFLOW_RECONCILE_CHUNK: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).max(1_000_000).default(RECONCILE_CHUNK_INVOICES)),
  DROPFLOW_CHUNK_CONCURRENCY: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).max(1000).default(4)),
  DROPFLOW_MAX_UPLOAD_BYTES: z.preprocess(
    emptyAsUndefined,
    z.coerce
      .number()
      .int({ message: "must be a whole number of bytes" })
      .min(1, { message: "must be at least 1 byte" })
      .max(MAX_CLIENT_UPLOAD_BYTES, { message: "must not exceed 5 TB (Vercel Blob's own limit)" })
      .default(DEFAULT_MAX_UPLOAD_BYTES),
  ),
  DROPFLOW_IMPORT_HASH_BUDGET_BYTES: z.preprocess(
    emptyAsUndefined,
    z.coerce
      .number()
      .int({ message: "must be a whole number of bytes" })
      .min(0, { message: "must be 0 (never hash at create) or more bytes" })
      .default(DEFAULT_IMPORT_HASH_BUDGET_BYTES),
  ),
  DROPFLOW_WEBHOOK_SECRET: secret(24),
  /** Searchable log records are deleted after this many days. */
  DROPFLOW_RETAIN_LOGS_DAYS: z.preprocess(emptyAsUndefined, z.coerce.number().positive().default(30)),
  /** Finished jobs' detail (row errors, dry-run rows, sync chunk rows) is deleted after this many days. */
  DROPFLOW_RETAIN_JOB_DETAIL_DAYS: z.preprocess(emptyAsUndefined, z.coerce.number().positive().default(90)),
  /** Uploaded files (buyers' names and addresses) are deleted this many days after their import finished. */
  DROPFLOW_RETAIN_UPLOADS_DAYS: z.preprocess(emptyAsUndefined, z.coerce.number().positive().default(30)),
  /** Where ERROR events and failed or gappy jobs are posted (Slack-compatible `text`), rate limited. */
  ALERT_WEBHOOK_URL: httpUrl,
  /** The alert rate limit's window: 3 messages per window at most, the rest held back for a summary. */
  DROPFLOW_ALERT_WINDOW_S: seconds(600),
  /** The searchable logs (GET /api/logs): WARN and above and job lifecycle events also go to Postgres. */
  DROPFLOW_LOG_STORE: z.preprocess(emptyAsUndefined, z.enum(["on", "off"]).default("on")),
  /** Log records the store sink holds at most before it drops (and counts) more. */
  DROPFLOW_LOG_BUFFER: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).max(1_000_000).default(10_000)),
  EMAG_ACCOUNTS: emagAccounts,
  SAP_URL: httpUrl,
  SAP_COMPANY_DB: optionalString,
  SAP_USER: optionalString,
  SAP_PASSWORD: optionalString,
  /** Page requests of one SAP run in flight at once (each a keyset range of ItemCodes). */
  DROPFLOW_SYNC_SAP_WORKERS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).max(32).default(5)),
  /** Items per SAP page ($top, Prefer: odata.maxpagesize and B1S-PageSize); SAP advises 20-500. */
  DROPFLOW_SYNC_SAP_PAGE_SIZE: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).max(1000).default(100)),
  /** Page ranges of one eMAG run read at once; the account's rate limit paces them all. */
  DROPFLOW_SYNC_EMAG_WORKERS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).max(32).default(4)),
  /** One upstream request's timeout; a request that used it up is not retried in the same invocation. */
  DROPFLOW_SYNC_REQUEST_TIMEOUT_S: seconds(60),
  /** Pages one run reads at most; a run that hits the cap ends completed_with_gaps. */
  DROPFLOW_SYNC_MAX_PAGES: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).default(20_000)),
  LOG_FORMAT: z.preprocess(
    (value) => (typeof value === "string" ? emptyAsUndefined(value.toLowerCase()) : value),
    z.enum(["json", "pretty"]).optional(),
  ),
});

export type DatabaseConfig =
  | { driver: "pglite"; dataDir: string }
  | { driver: "pg"; url: string }
  | { driver: "neon"; url: string; wsProxy: string | null };

export type KvConfig = { driver: "memory" } | { driver: "upstash"; url: string; token: string };

/**
 * `embedded`: the dev server runs the QStash-compatible stand-in in process and
 * fills in its URL, token and signing keys when it starts.
 */
export type QueueConfig =
  | { mode: "embedded" }
  | { mode: "qstash"; url: string; token: string; currentSigningKey: string; nextSigningKey: string };

/**
 * `embedded`: the dev server runs the Blob-compatible stand-in (dev/blob) in process,
 * with files under `$DROPFLOW_DATA_DIR/blobs`, and attaches it when it starts.
 * `blob`: the @vercel/blob SDK with this read-write token; `apiUrl` null means Vercel's
 * own API (production), a URL means a Blob-compatible server (local services mode).
 */
export type StorageConfig = { mode: "embedded" } | { mode: "blob"; token: string; apiUrl: string | null };

/** The time knobs of the job engine (docs/job-engine.md, "Time knobs"), in milliseconds. */
export interface JobsConfig {
  maxDurationMs: number;
  deadlineMarginMs: number;
  /** Longer than maxDurationMs, so a live chunk's lease never expires under it. */
  leaseMs: number;
  /** A job without heartbeat, or a chunk never claimed, for this long is stuck. */
  stallMs: number;
  chunkRows: number;
  /** What a workbook may cost the planner that converts it (lib/imports/xlsx/). */
  workbookLimits: { maxSharedStringBytes: number; maxPartBytes: number; maxRatio: number };
  /**
   * Chunks one process works on at once; more deliveries wait for a slot. Bounds a
   * worker's memory whatever the queue sends it (Vercel's fluid compute hands one
   * instance many invocations).
   */
  chunkConcurrency: number;
  /** Invoices per reconcile chunk (one keyset range, one SQL pass). */
  reconcileChunkInvoices: number;
}

/** One eMAG seller account (EMAG_ACCOUNTS), each its own rate-limit bucket. */
export interface EmagAccount {
  name: string;
  /** The platform's API base, e.g. https://marketplace-api.emag.ro/api-3. */
  platformUrl: string;
  username: string;
  password: string;
  ratePerSecond: number;
  ratePerMinute: number;
}

/** The SAP Business One Service Layer (SAP_URL is its root, e.g. https://host:50000/b1s/v1). */
export interface SapSettings {
  url: string;
  companyDb: string;
  user: string;
  password: string;
}

/** The catalogue sync: its upstreams (null: not configured; outside production the simulators stand in) and knobs. */
export interface SyncConfig {
  emag: EmagAccount[] | null;
  sap: SapSettings | null;
  sapWorkers: number;
  sapPageSize: number;
  emagWorkers: number;
  requestTimeoutMs: number;
  maxPages: number;
}

export interface Config {
  /** On Vercel or NODE_ENV=production: no embedded fallbacks. */
  production: boolean;
  onVercel: boolean;
  port: number;
  /** Absolute path of the directory that holds every embedded store. */
  dataDir: string;
  database: DatabaseConfig;
  /** Accepted API bearer tokens; empty outside production means "use the generated dev token". */
  apiTokens: string[];
  cronSecret: string | null;
  /** The bearer of GET /api/metrics; null: nobody may scrape. */
  metricsToken: string | null;
  publicBaseUrl: string | null;
  log: { level: LogLevel; format: LogFormat };
  /** How long records and files are kept (days). */
  retention: { logsDays: number; jobDetailDays: number; uploadsDays: number };
  /** Where alerts are posted (null: no alerts out), and the rate limit's window. */
  alerts: { webhookUrl: string | null; windowMs: number };
  /** The searchable-log sink: on or off, and its buffer's capacity. */
  logStore: { enabled: boolean; capacity: number };
  kv: KvConfig;
  queue: QueueConfig;
  storage: StorageConfig;
  jobs: JobsConfig;
  sync: SyncConfig;
  /** Largest file a client upload (POST /api/uploads) may send, in bytes. */
  maxUploadBytes: number;
  /**
   * Bytes one POST /api/imports may stream from storage to hash files whose SHA-256 was
   * not recorded at upload (DEFAULT_IMPORT_HASH_BUDGET_BYTES); 0: never.
   */
  importHashBudgetBytes: number;
  /**
   * The key of completion webhook signatures (Dropflow-Signature). Required in
   * production; null outside it means "generate one under the data directory".
   */
  webhookSecret: string | null;
  /** Test and benchmark switches; refused in production. */
  testing: {
    /** Register the dev/test-kinds.ts job kinds (test-rows, noop). */
    jobKinds: boolean;
    /** Exit the process right after the Nth chunk commit it makes (before Redis hears of it). */
    crashAfterCommit: number | null;
    /** Only this kind's commits count towards crashAfterCommit; null: every kind's. */
    crashKind: string | null;
  };
}

export interface ConfigIssue {
  variable: string;
  problem: string;
}

/** Start-up failure listing every missing or invalid variable by name (never by value). */
export class ConfigError extends Error {
  readonly code = "invalid_config";
  constructor(readonly issues: ConfigIssue[]) {
    super(
      `Invalid configuration (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n${issues
        .map((issue) => `  - ${issue.variable}: ${issue.problem}`)
        .join("\n")}\nSee .env.example for every variable.`,
    );
    this.name = "ConfigError";
  }
}

function isNeonHost(url: string): boolean {
  const host = new URL(url).hostname;
  return NEON_HOST_SUFFIXES.some((suffix) => host.endsWith(suffix));
}

export interface LoadOptions {
  cwd?: string;
  /**
   * Whether the secrets that guard routes (API tokens, cron secret) are required in
   * production. Off for tools that serve nothing, such as the migration step of a build.
   */
  serving?: boolean;
}

/** Parse and validate an environment (by default the process's). Throws `ConfigError`. */
export function loadConfig(env: Environment = process.env, options: LoadOptions = {}): Config {
  const { cwd = process.cwd(), serving = true } = options;
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? "environment"),
        problem: issue.code === "invalid_value" ? `must be one of ${describeOptions(issue)}` : issue.message,
      })),
    );
  }
  const vars = parsed.data;
  const onVercel = vars.VERCEL === "1";
  const production = onVercel || vars.NODE_ENV === "production";
  const issues: ConfigIssue[] = [];

  if (production) {
    if (!vars.DATABASE_URL) {
      issues.push({
        variable: "DATABASE_URL",
        problem: "is required in production (there is no embedded database on Vercel)",
      });
    }
    if (serving && (!vars.DROPFLOW_API_TOKENS || vars.DROPFLOW_API_TOKENS.length === 0)) {
      issues.push({
        variable: "DROPFLOW_API_TOKENS",
        problem: "is required in production (no token is generated outside development)",
      });
    }
    if (serving && !vars.CRON_SECRET) {
      issues.push({ variable: "CRON_SECRET", problem: "is required in production (Vercel cron sends it)" });
    }
    if (serving && !vars.DROPFLOW_WEBHOOK_SECRET) {
      issues.push({
        variable: "DROPFLOW_WEBHOOK_SECRET",
        problem: "is required in production (completion webhooks are signed with it; none is generated outside development)",
      });
    }
  }
  const kvUrl = vars.UPSTASH_REDIS_REST_URL ?? vars.KV_REST_API_URL;
  const kvToken = vars.UPSTASH_REDIS_REST_TOKEN ?? vars.KV_REST_API_TOKEN;
  if (Boolean(kvUrl) !== Boolean(kvToken)) {
    issues.push({
      variable: kvUrl ? "UPSTASH_REDIS_REST_TOKEN" : "UPSTASH_REDIS_REST_URL",
      problem: "must be set together with its pair (or KV_REST_API_URL and KV_REST_API_TOKEN)",
    });
  } else if (production && serving && !kvUrl) {
    issues.push({
      variable: "UPSTASH_REDIS_REST_URL",
      problem: "is required in production, with UPSTASH_REDIS_REST_TOKEN (there is no in-memory store on Vercel)",
    });
  }
  const queueVars = ["QSTASH_TOKEN", "QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY"] as const;
  const queueSet = queueVars.filter((name) => vars[name]);
  if ((queueSet.length > 0 || (production && serving)) && queueSet.length < queueVars.length) {
    for (const name of queueVars.filter((name) => !vars[name])) {
      issues.push({
        variable: name,
        problem: production
          ? "is required in production (every task message goes through QStash)"
          : "must be set together with the other QStash settings",
      });
    }
  }
  if (vars.VERCEL_BLOB_API_URL && !vars.BLOB_READ_WRITE_TOKEN) {
    issues.push({
      variable: "BLOB_READ_WRITE_TOKEN",
      problem: "must be set when VERCEL_BLOB_API_URL is (every call to the Blob API carries it)",
    });
  } else if (production && serving && !vars.BLOB_READ_WRITE_TOKEN) {
    issues.push({
      variable: "BLOB_READ_WRITE_TOKEN",
      problem: "is required in production (uploaded files live in Vercel Blob; there is no embedded store on Vercel)",
    });
  }
  if (production && serving && !vars.PUBLIC_BASE_URL) {
    issues.push({ variable: "PUBLIC_BASE_URL", problem: "is required in production (QStash delivers to it)" });
  }
  const leaseS = vars.DROPFLOW_LEASE_S ?? vars.DROPFLOW_MAX_DURATION_S + 60;
  if (leaseS <= vars.DROPFLOW_MAX_DURATION_S) {
    issues.push({
      variable: "DROPFLOW_LEASE_S",
      problem: "must be longer than DROPFLOW_MAX_DURATION_S, or a chunk still running could be handed to another worker",
    });
  }
  if (vars.DROPFLOW_DEADLINE_MARGIN_S >= vars.DROPFLOW_MAX_DURATION_S) {
    issues.push({ variable: "DROPFLOW_DEADLINE_MARGIN_S", problem: "must be shorter than DROPFLOW_MAX_DURATION_S" });
  }
  const testKinds = vars.DROPFLOW_TEST_JOB_KINDS === "1" || vars.DROPFLOW_TEST_JOB_KINDS === "true";
  if (production && (testKinds || vars.DROPFLOW_FAULT_CRASH_AFTER_COMMIT !== undefined)) {
    issues.push({
      variable: testKinds ? "DROPFLOW_TEST_JOB_KINDS" : "DROPFLOW_FAULT_CRASH_AFTER_COMMIT",
      problem: "is a test switch and is refused in production",
    });
  }
  if (vars.DROPFLOW_PG_DRIVER !== "auto" && !vars.DATABASE_URL) {
    issues.push({
      variable: "DROPFLOW_PG_DRIVER",
      problem: `is "${vars.DROPFLOW_PG_DRIVER}" but DATABASE_URL is not set`,
    });
  }
  const sapVars = ["SAP_URL", "SAP_COMPANY_DB", "SAP_USER", "SAP_PASSWORD"] as const;
  const sapSet = sapVars.filter((name) => vars[name]);
  if (sapSet.length > 0 && sapSet.length < sapVars.length) {
    for (const name of sapVars.filter((name) => !vars[name])) {
      issues.push({ variable: name, problem: "must be set together with the other SAP settings" });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);

  const dataDir = path.resolve(cwd, vars.DROPFLOW_DATA_DIR);
  return {
    production,
    onVercel,
    port: vars.PORT,
    dataDir,
    database: chooseDatabase(vars.DATABASE_URL, vars.DROPFLOW_PG_DRIVER, vars.DROPFLOW_NEON_WSPROXY, dataDir),
    apiTokens: vars.DROPFLOW_API_TOKENS ?? [],
    cronSecret: vars.CRON_SECRET ?? null,
    metricsToken: vars.METRICS_TOKEN ?? null,
    publicBaseUrl: vars.PUBLIC_BASE_URL ?? null,
    log: { level: vars.LOG_LEVEL, format: vars.LOG_FORMAT ?? (production ? "json" : "pretty") },
    logStore: { enabled: vars.DROPFLOW_LOG_STORE === "on", capacity: vars.DROPFLOW_LOG_BUFFER },
    retention: {
      logsDays: vars.DROPFLOW_RETAIN_LOGS_DAYS,
      jobDetailDays: vars.DROPFLOW_RETAIN_JOB_DETAIL_DAYS,
      uploadsDays: vars.DROPFLOW_RETAIN_UPLOADS_DAYS,
    },
    alerts: { webhookUrl: vars.ALERT_WEBHOOK_URL ?? null, windowMs: vars.DROPFLOW_ALERT_WINDOW_S * 1000 },
    kv: kvUrl && kvToken ? { driver: "upstash", url: kvUrl, token: kvToken } : { driver: "memory" },
    queue:
      vars.QSTASH_TOKEN && vars.QSTASH_CURRENT_SIGNING_KEY && vars.QSTASH_NEXT_SIGNING_KEY
        ? {
            mode: "qstash",
            url: vars.QSTASH_URL ?? "https://qstash.upstash.io",
            token: vars.QSTASH_TOKEN,
            currentSigningKey: vars.QSTASH_CURRENT_SIGNING_KEY,
            nextSigningKey: vars.QSTASH_NEXT_SIGNING_KEY,
          }
        : { mode: "embedded" },
    storage: vars.BLOB_READ_WRITE_TOKEN
      ? { mode: "blob", token: vars.BLOB_READ_WRITE_TOKEN, apiUrl: vars.VERCEL_BLOB_API_URL ?? null }
      : { mode: "embedded" },
    jobs: {
      maxDurationMs: vars.DROPFLOW_MAX_DURATION_S * 1000,
      deadlineMarginMs: vars.DROPFLOW_DEADLINE_MARGIN_S * 1000,
      leaseMs: leaseS * 1000,
      stallMs: vars.DROPFLOW_STALL_S * 1000,
      chunkRows: vars.DROPFLOW_CHUNK_ROWS,
      workbookLimits: {
        maxSharedStringBytes: Math.round(vars.DROPFLOW_XLSX_MAX_SHARED_STRINGS_MB * 1024 ** 2),
        maxPartBytes: Math.round(vars.DROPFLOW_XLSX_MAX_PART_MB * 1024 ** 2),
        maxRatio: vars.DROPFLOW_XLSX_MAX_RATIO,
      },
      chunkConcurrency: vars.DROPFLOW_CHUNK_CONCURRENCY,
      reconcileChunkInvoices: vars.DROPFLOW_RECONCILE_CHUNK,
    },
    sync: {
      emag:
        vars.EMAG_ACCOUNTS?.map((account) => ({
          name: account.name,
          platformUrl: account.platform_url,
          username: account.username,
          password: account.password,
          ratePerSecond: account.rate_per_s,
          ratePerMinute: account.rate_per_min,
        })) ?? null,
      sap:
        vars.SAP_URL && vars.SAP_COMPANY_DB && vars.SAP_USER && vars.SAP_PASSWORD
          ? { url: vars.SAP_URL, companyDb: vars.SAP_COMPANY_DB, user: vars.SAP_USER, password: vars.SAP_PASSWORD }
          : null,
      sapWorkers: vars.DROPFLOW_SYNC_SAP_WORKERS,
      sapPageSize: vars.DROPFLOW_SYNC_SAP_PAGE_SIZE,
      emagWorkers: vars.DROPFLOW_SYNC_EMAG_WORKERS,
      requestTimeoutMs: vars.DROPFLOW_SYNC_REQUEST_TIMEOUT_S * 1000,
      maxPages: vars.DROPFLOW_SYNC_MAX_PAGES,
    },
    maxUploadBytes: vars.DROPFLOW_MAX_UPLOAD_BYTES,
    importHashBudgetBytes: vars.DROPFLOW_IMPORT_HASH_BUDGET_BYTES,
    webhookSecret: vars.DROPFLOW_WEBHOOK_SECRET ?? null,
    testing: { jobKinds: testKinds, crashAfterCommit: vars.DROPFLOW_FAULT_CRASH_AFTER_COMMIT ?? null,
      crashKind: vars.DROPFLOW_FAULT_CRASH_KIND ?? null,
    },
  };
}

function chooseDatabase(
  url: string | undefined,
  driver: "auto" | "pg" | "neon",
  wsProxy: string | undefined,
  dataDir: string,
): DatabaseConfig {
  if (!url) return { driver: "pglite", dataDir: path.join(dataDir, "pglite") };
  if (driver === "neon" || (driver === "auto" && isNeonHost(url))) {
    return { driver: "neon", url, wsProxy: wsProxy ?? null };
  }
  return { driver: "pg", url };
}

function describeOptions(issue: z.core.$ZodIssue): string {
  const values = "values" in issue && Array.isArray(issue.values) ? issue.values : [];
  return values.map((value) => JSON.stringify(value)).join(", ");
}

/**
 * A copy of the process environment, for tools that start child processes
 * (dev servers, test servers). Kept here so no other module touches `process.env`.
 */
export function currentEnvironment(): Record<string, string | undefined> {
  return { ...process.env };
}

/**
 * The @vercel/blob SDK reads two of its settings only from the environment, on every
 * call: `VERCEL_BLOB_API_URL` (where API requests go) and `VERCEL_BLOB_RETRIES`. This is
 * the one place that sets them (as it is the one module that reads process.env), for
 * the storage adapter:
 * - the API URL is the configured one (the embedded or local stand-in), or removed so
 *   the SDK uses Vercel's own API when `apiUrl` is null;
 * - the SDK's retries are turned off (0): its default is 10 retries with exponential
 *   backoff from 1 s, about 17 minutes, far past a function's maxDuration. The adapter
 *   retries itself, bounded, and also retries reads, which the SDK never does. The CLI,
 *   whose client uploads only the SDK can retry, asks for a few (`options.retries`).
 * Environment variables are process-wide, so one process talks to one Blob API at a
 * time: a claim for a different URL while another is held throws. Returns the release,
 * which restores the previous values once the last holder lets go.
 */
export function applyBlobSdkSettings(apiUrl: string | null, options: { retries?: number } = {}): () => void {
  if (blobSdkClaim && blobSdkClaim.apiUrl !== apiUrl) {
    throw new Error(
      `the Blob SDK is already pointed at ${blobSdkClaim.apiUrl ?? "Vercel's API"} in this process; ` +
        "it reads VERCEL_BLOB_API_URL from the environment, so one process can use one Blob API at a time",
    );
  }
  if (!blobSdkClaim) {
    blobSdkClaim = {
      apiUrl,
      holders: 0,
      previous: { url: process.env.VERCEL_BLOB_API_URL, retries: process.env.VERCEL_BLOB_RETRIES },
    };
    setOrDelete("VERCEL_BLOB_API_URL", apiUrl ?? undefined);
    process.env.VERCEL_BLOB_RETRIES = String(options.retries ?? 0);
  }
  const claim = blobSdkClaim;
  claim.holders += 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    claim.holders -= 1;
    if (claim.holders > 0 || blobSdkClaim !== claim) return;
    blobSdkClaim = undefined;
    setOrDelete("VERCEL_BLOB_API_URL", claim.previous.url);
    setOrDelete("VERCEL_BLOB_RETRIES", claim.previous.retries);
  };
}

/** Where the Blob SDK is pointed now: a URL, null for Vercel's API, undefined when nobody applied settings. */
export function currentBlobSdkApiUrl(): string | null | undefined {
  return blobSdkClaim?.apiUrl;
}

let blobSdkClaim:
  | { apiUrl: string | null; holders: number; previous: { url: string | undefined; retries: string | undefined } }
  | undefined;

function setOrDelete(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

let cached: Config | undefined;

/** The process's configuration, parsed once. */
export function getConfig(): Config {
  cached ??= loadConfig();
  return cached;
}

/** The command-line client's settings (loadCliSettings). */
export interface CliSettings {
  /** Without a trailing slash; null when neither the flag nor the variable gives one. */
  url: string | null;
  token: string | null;
  /** Where client uploads' bytes go instead of where the deployment says; null: as it says. */
  blobApiUrl: string | null;
}

export interface CliFlags {
  url?: string | undefined;
  token?: string | undefined;
  blobApiUrl?: string | undefined;
}

const CliSettingsSchema = z.object({ url: httpUrl, token: secret(1), blobApiUrl: httpUrl });

/**
 * The command-line client's settings (docs/cli.md): the API's address, the API token,
 * and the Blob API for client uploads. Each comes from its flag, else from its
 * variable: `--url` / DROPFLOW_URL, `--token` / DROPFLOW_TOKEN, `--blob-api-url` /
 * VERCEL_BLOB_API_URL (the SDK's own name; rarely needed: the CLI asks the deployment,
 * GET /api/uploads). Separate from loadConfig(): the CLI serves nothing and needs none
 * of the server's settings. Throws a ConfigError naming the flag or variable (never its
 * value).
 */
export function loadCliSettings(flags: CliFlags = {}, env: Environment = process.env): CliSettings {
  const sources = {
    url: flags.url !== undefined ? "--url" : "DROPFLOW_URL",
    token: flags.token !== undefined ? "--token" : "DROPFLOW_TOKEN",
    blobApiUrl: flags.blobApiUrl !== undefined ? "--blob-api-url" : "VERCEL_BLOB_API_URL",
  } as const;
  const parsed = CliSettingsSchema.safeParse({
    url: flags.url ?? env.DROPFLOW_URL,
    token: flags.token ?? env.DROPFLOW_TOKEN,
    blobApiUrl: flags.blobApiUrl ?? env.VERCEL_BLOB_API_URL,
  });
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        variable: sources[issue.path[0] as keyof typeof sources] ?? String(issue.path[0]),
        problem: issue.message,
      })),
    );
  }
  return { url: parsed.data.url ?? null, token: parsed.data.token ?? null, blobApiUrl: parsed.data.blobApiUrl ?? null };
}
