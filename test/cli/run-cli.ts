/**
 * Runs the real `dropflow` command (bin/dropflow.mjs, as npx runs it) as a child process
 * against a test app, stdout and stderr piped (so never a TTY), and answers what it
 * printed and its exit code.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { currentEnvironment } from "../../lib/config.js";
import type { AppServer } from "../support/app-server.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BIN = fileURLToPath(new URL("../../bin/dropflow.mjs", import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The CLI's settings for `app` (token `token`), as its environment variables. No Blob
 * API: the CLI asks the app where uploads go (GET /api/uploads), as against npm run dev.
 */
export function cliEnvironment(app: AppServer, token: string): Record<string, string> {
  return { DROPFLOW_URL: app.base, DROPFLOW_TOKEN: token };
}

export function runCli(args: readonly string[], env: Record<string, string>, options: { timeoutMs?: number; cwd?: string } = {}): Promise<CliRun> {
  const base = currentEnvironment();
  // The suite's own settings must not reach the CLI: it gets exactly `env`.
  for (const name of Object.keys(base)) {
    if (/^(DROPFLOW_|VERCEL_BLOB_|BLOB_READ_WRITE_TOKEN$|FORCE_COLOR$)/.test(name)) delete base[name];
  }
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: options.cwd ?? ROOT, env: { ...base, ...env }, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") {
          reject(new Error(`dropflow ${args.join(" ")} did not run: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/** The job id of the "<what> <id> started" line the CLI prints. */
export function startedId(stdout: string, what: string): string {
  const match = new RegExp(`^${what} ([0-9a-f-]{36}) started`, "m").exec(stdout);
  if (!match?.[1]) throw new Error(`no "${what} … started" line in:\n${stdout}`);
  return match[1];
}

/** The name-and-number lines under a heading of the CLI's summary (e.g. "counts"), as numbers. */
export function countsUnder(stdout: string, heading: string): Record<string, number> {
  const lines = stdout.split("\n");
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`no "${heading}" heading in:\n${stdout}`);
  const counts: Record<string, number> = {};
  for (const line of lines.slice(start + 1)) {
    const match = /^ {2}([a-z_0-9]+) +([\d,]+)$/.exec(line);
    if (!match) break;
    counts[match[1] as string] = Number((match[2] as string).replaceAll(",", ""));
  }
  return counts;
}

/** Terminal control: carriage returns and escape sequences, what a progress bar draws with. */
// eslint-disable-next-line no-control-regex -- the escape character is what is looked for
export const TERMINAL_CONTROL = /[\r\u001b]/;
