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
  PUBLIC_BASE_URL: z.preprocess(
    emptyAsUndefined,
    urlOf(["http:", "https:"], "must be an http(s) URL")
      .transform((value) => value.replace(/\/+$/, ""))
      .optional(),
  ),
  LOG_LEVEL: z.preprocess(
    (value) => (typeof value === "string" ? emptyAsUndefined(value.toLowerCase()) : value),
    z.enum(LOG_LEVELS).default("info"),
  ),
  LOG_FORMAT: z.preprocess(
    (value) => (typeof value === "string" ? emptyAsUndefined(value.toLowerCase()) : value),
    z.enum(["json", "pretty"]).optional(),
  ),
});

export type DatabaseConfig =
  | { driver: "pglite"; dataDir: string }
  | { driver: "pg"; url: string }
  | { driver: "neon"; url: string; wsProxy: string | null };

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
  publicBaseUrl: string | null;
  log: { level: LogLevel; format: LogFormat };
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
  }
  if (vars.DROPFLOW_PG_DRIVER !== "auto" && !vars.DATABASE_URL) {
    issues.push({
      variable: "DROPFLOW_PG_DRIVER",
      problem: `is "${vars.DROPFLOW_PG_DRIVER}" but DATABASE_URL is not set`,
    });
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
    publicBaseUrl: vars.PUBLIC_BASE_URL ?? null,
    log: { level: vars.LOG_LEVEL, format: vars.LOG_FORMAT ?? (production ? "json" : "pretty") },
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

let cached: Config | undefined;

/** The process's configuration, parsed once. */
export function getConfig(): Config {
  cached ??= loadConfig();
  return cached;
}
