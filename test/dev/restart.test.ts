/**
 * Embedded mode (`npm run dev` on PGlite, the in-memory job store and the
 * in-process queue) across a crash: the server is killed with SIGKILL half-way
 * through a job, so its job store and every queued message are lost and its data
 * directory lock is left behind. Started again on the same directory, it takes the
 * stale lock over and, at once (not after the watchdog's stall window), rebuilds the
 * job's state from job_chunks, re-publishes what was pending, and finishes the job with
 * every row written exactly once.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type DevProcess, startDevProcess } from "../support/dev-process.js";
import { waitForStatus } from "../support/job-status.js";

const CHUNKS = 30;
const ROWS_PER_CHUNK = 10;
const ROWS = CHUNKS * ROWS_PER_CHUNK;

interface JobView {
  id: string;
  status: string;
  counters: Record<string, number>;
  finished_at: string | null;
  progress: { percent: number; rows: { total: number; done: number }; chunks: { total: number; done: number } };
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), "dropflow-restart-"));
const lockFile = path.join(dataDir, "pglite", "dropflow.lock");
const env = {
  DROPFLOW_DATA_DIR: dataDir,
  DROPFLOW_TEST_JOB_KINDS: "1",
  DROPFLOW_MAX_DURATION_S: "2",
  DROPFLOW_DEADLINE_MARGIN_S: "0.2",
  DROPFLOW_LEASE_S: "2.5",
  // The default stall window: the watchdog would not act for 15 minutes, so the job
  // finishes only because the restarted process recovers it at start.
  DROPFLOW_STALL_S: "900",
  LOG_LEVEL: "info",
};

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function lockHolder(): number {
  return (JSON.parse(readFileSync(lockFile, "utf8")) as { pid: number }).pid;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

describe("npm run dev, killed mid-job and started again", () => {
  it("finishes the job on the same data directory with every row written exactly once", { timeout: 120_000 }, async () => {
    const first: DevProcess = startDevProcess(env);
    const base1 = await first.ready;
    const token = readFileSync(path.join(dataDir, "api-token"), "utf8").trim();
    const call = (base: string, route: string, init: RequestInit = {}) =>
      fetch(`${base}${route}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...init.headers },
      });

    const created = await call(base1, "/api/jobs", {
      method: "POST",
      body: JSON.stringify({ kind: "test-rows", params: { chunks: CHUNKS, rows_per_chunk: ROWS_PER_CHUNK, slow_ms: 300 } }),
    });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as JobView;

    // Some chunks done, not all: then the process dies on the spot.
    const view = (base: string) => async () => (await (await call(base, `/api/jobs/${id}`)).json()) as JobView;
    const midway = await waitForStatus(view(base1), {
      until: (job) => job.progress.chunks.done > 0,
      timeoutMs: 30_000,
      intervalMs: 20,
      what: "some chunks done",
    });
    // tsx runs the server in a child node process: the lock names it.
    const serverPid = lockHolder();
    expect(serverPid).not.toBe(first.child.pid);
    process.kill(serverPid, "SIGKILL");
    const killedAt = Date.now();
    await first.exited;
    await first.stop("SIGKILL");
    expect(midway.status).toBe("running");
    expect(midway.progress.chunks.done).toBeLessThan(CHUNKS);
    await waitForStatus(() => Promise.resolve(isAlive(serverPid)), {
      until: (alive) => !alive,
      timeoutMs: 10_000,
      intervalMs: 20,
      what: "the server process to be gone",
    });
    // SIGKILL runs no exit handler: the lock of the dead process is still there.
    expect(existsSync(lockFile)).toBe(true);
    expect(lockHolder()).toBe(serverPid);

    // Same directory again: the stale lock is taken over, the job is recovered.
    const second = startDevProcess(env);
    const base2 = await second.ready;
    expect(lockHolder()).not.toBe(serverPid);
    const done = await waitForStatus(view(base2), { timeoutMs: 30_000, intervalMs: 20, what: "the job to finish after the restart" });

    expect(done.status).toBe("completed");
    // Finished by the second process, which recovered the job at start.
    expect(Date.parse(done.finished_at ?? "")).toBeGreaterThan(killedAt);
    expect(second.output()).toContain("event=jobs_recovered");
    const counters = done.counters;
    expect(counters).toMatchObject({ rows_done: ROWS, rows_failed: 0, chunks_done: CHUNKS, chunks_failed: 0 });
    expect((counters.rows_inserted ?? 0) + (counters.rows_updated ?? 0) + (counters.rows_unchanged ?? 0)).toBe(ROWS);
    // Each row was written exactly once, net: no chunk's commit was lost or applied twice.
    expect(counters).toMatchObject({ rows_inserted: ROWS, rows_updated: 0, rows_unchanged: 0 });
    expect(done.progress).toMatchObject({ percent: 100, rows: { total: ROWS, done: ROWS }, chunks: { total: CHUNKS, done: CHUNKS } });

    const running = await call(base2, "/api/jobs?status=running");
    expect(running.status).toBe(200);
    expect(((await running.json()) as { jobs: unknown[] }).jobs).toEqual([]);

    expect(await second.stop("SIGTERM")).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
  });
});
