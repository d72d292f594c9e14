/**
 * `npm run bench:jobs`: the job engine's throughput and overhead in local services
 * mode (real Postgres, real Redis behind the Upstash bridge, the QStash stand-in,
 * 2 worker processes). A job of N no-op chunks runs end to end: plan, publish,
 * signed delivery, claim, commit, completion, finalisation. The baseline, measured
 * in the same run against the same workers, is N bare HTTP POSTs to a no-op route
 * at the same concurrency the queue uses.
 *
 *   npm run bench:jobs -- [--chunks 10000] [--workers 2] [--runs 3]
 *
 * The last line is one JSON object (bench/README.md, "The last line").
 */
import { parseArgs } from "node:util";
import type { JobStatus } from "../lib/db/schema.js";
import { DEFAULT_PARALLELISM as JOB_PARALLELISM } from "../lib/jobs/kind.js";
import { ACTIVE_STATUSES } from "../lib/jobs/repository.js";
import { NOOP_PATH } from "../dev/app.js";
import { peakRssMb, startLocalServices } from "../dev/services.js";
import { out, median } from "./report.js";
import { parseWorkerEnv } from "./worker-env.js";

const { values } = parseArgs({
  options: {
    chunks: { type: "string", default: "10000" },
    workers: { type: "string", default: "2" },
    runs: { type: "string", default: "3" },
    /** Extra worker environment, NAME=VALUE, repeatable (e.g. `NODE_OPTIONS=` drops the workers' heap budget). */
    "worker-env": { type: "string", multiple: true, default: [] },
  },
});
const chunks = Number(values.chunks);
const workers = Number(values.workers);
const runs = Math.max(1, Number(values.runs));
const JOB_TIMEOUT_MS = 10 * 60_000;

async function baseline(baseUrl: string): Promise<number> {
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < chunks) {
      next += 1;
      const response = await fetch(`${baseUrl}${NOOP_PATH}`, { method: "POST", body: "{}" });
      await response.arrayBuffer();
      if (response.status !== 204) throw new Error(`baseline request answered ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: JOB_PARALLELISM }, lane));
  return (performance.now() - started) / 1000;
}

async function engineRun(baseUrl: string, token: string): Promise<number> {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const started = performance.now();
  const created = await fetch(`${baseUrl}/api/jobs`, {
    method: "POST",
    headers,
    body: JSON.stringify({ kind: "noop", params: { chunks } }),
  });
  if (created.status !== 202) throw new Error(`create answered ${created.status}: ${await created.text()}`);
  const { id } = (await created.json()) as { id: string };
  const until = Date.now() + JOB_TIMEOUT_MS;
  for (;;) {
    if (Date.now() > until) throw new Error(`job ${id} still not finished after ${JOB_TIMEOUT_MS / 60_000} minutes`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const view = (await (await fetch(`${baseUrl}/api/jobs/${id}`, { headers })).json()) as {
      status: string;
      counters: Record<string, number>;
      progress: { percent: number };
    };
    if (!ACTIVE_STATUSES.includes(view.status as JobStatus)) {
      if (view.status !== "completed" || view.counters.chunks_done !== chunks) {
        throw new Error(`job ended ${view.status} with ${JSON.stringify(view.counters)}`);
      }
      return (performance.now() - started) / 1000;
    }
  }
}

const services = await startLocalServices({
  workers,
  env: {
    DROPFLOW_TEST_JOB_KINDS: "1",
    LOG_LEVEL: "error",
    // No-op chunks hold nothing: the engine's own cost is measured with a slot for every
    // delivery the queue may send (the memory bound is the import's concern).
    DROPFLOW_CHUNK_CONCURRENCY: String(JOB_PARALLELISM),
    ...parseWorkerEnv(values["worker-env"]),
  },
});
try {
  const baselineSeconds: number[] = [];
  const engineSeconds: number[] = [];
  for (let run = 1; run <= runs; run++) {
    baselineSeconds.push(await baseline(services.baseUrl));
    engineSeconds.push(await engineRun(services.baseUrl, services.apiToken));
    out(
      `run ${run}/${runs}: engine ${engineSeconds.at(-1)?.toFixed(2)} s, baseline ${baselineSeconds.at(-1)?.toFixed(2)} s`,
    );
  }
  const seconds = median(engineSeconds);
  const base = median(baselineSeconds);
  const rss: Record<string, number | null> = {};
  services.workerPids().forEach((pid, i) => {
    rss[`worker-${i + 1}`] = peakRssMb(pid);
  });
  rss.qstash = peakRssMb(services.pids.qstash);
  rss["redis-bridge"] = peakRssMb(services.pids.bridge);
  const figures = {
    bench: "jobs",
    chunks,
    workers,
    runs,
    seconds: Number(seconds.toFixed(2)),
    chunks_per_s: Math.round(chunks / seconds),
    overhead_ms_per_chunk: Number((((seconds - base) / chunks) * 1000).toFixed(3)),
    baseline_seconds: Number(base.toFixed(2)),
    baseline_requests_per_s: Math.round(chunks / base),
    ratio: Number((seconds / base).toFixed(2)),
    concurrency: JOB_PARALLELISM,
    peak_rss_mb: rss,
  };
  out();
  out(`| ${chunks} chunks, ${workers} workers, median of ${runs} | seconds | per second |`);
  out("|---|---|---|");
  out(`| job engine (no-op chunks, end to end) | ${figures.seconds} | ${figures.chunks_per_s} chunks/s |`);
  out(`| baseline (bare POSTs, ${JOB_PARALLELISM} in flight) | ${figures.baseline_seconds} | ${figures.baseline_requests_per_s} requests/s |`);
  out(`engine overhead: ${figures.overhead_ms_per_chunk} ms per chunk (wall), ratio ${figures.ratio}x`);
  out(`peak RSS (MB): ${JSON.stringify(rss)}`);
  out(JSON.stringify(figures));
} finally {
  await services.stop();
}
