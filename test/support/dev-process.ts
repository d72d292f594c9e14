/**
 * Runs `npm run dev`'s entry point (tsx dev/server.ts) as a child process, the way a
 * developer does, and kills it at the end of the suite whatever happens.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { currentEnvironment } from "../../lib/config.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSX = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url));

export interface DevProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the base URL once the server prints it; rejects if it exits first. */
  ready: Promise<string>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill("SIGKILL");
});

export function startDevProcess(env: Record<string, string>): DevProcess {
  const base = currentEnvironment();
  // The suite's own settings must not leak into the server under test.
  for (const name of Object.keys(base)) {
    if (/^(DATABASE_URL|DROPFLOW_|PORT$|LOG_|VERCEL$|NODE_ENV$|CRON_SECRET$|BLOB_READ_WRITE_TOKEN$|VERCEL_BLOB_)/.test(name)) delete base[name];
  }
  const child = spawn(TSX, ["dev/server.ts"], { cwd: ROOT, env: { ...base, PORT: "0", ...env } });
  running.add(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  const ready = new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /dropflow dev server on (http:\/\/localhost:\d+)/.exec(output);
      if (match?.[1]) resolve(match[1].replace("localhost", "127.0.0.1"));
    };
    child.stdout?.on("data", check);
    void exited.then((code) => reject(new Error(`dev server exited with ${code} before it was ready:\n${output}`)));
  });
  // Callers that only await `exited` (servers expected to refuse to start) never read
  // `ready`; its rejection is reported through `exited` instead.
  ready.catch(() => undefined);
  return {
    child,
    output: () => output,
    ready,
    exited,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/** Waits until `predicate(output)` holds (log lines arrive asynchronously). */
export async function waitForOutput(dev: DevProcess, predicate: (output: string) => boolean, ms = 5000) {
  const until = Date.now() + ms;
  while (!predicate(dev.output())) {
    if (Date.now() > until) throw new Error(`timed out waiting for output; got:\n${dev.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
