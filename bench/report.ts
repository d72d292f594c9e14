/**
 * What every benchmark prints and samples with: the table's number formats, the local
 * services it starts and the resident set size of the processes it watches.
 */
import { type LocalServices, type LocalServicesOptions, procStatusMb, startLocalServices } from "../dev/services.js";

export const out = (line = "") => process.stdout.write(`${line}\n`);
export const round = (value: number, digits = 2) => Number(value.toFixed(digits));
export const thousands = (value: number) => Math.round(value).toLocaleString("en-US");
/** Seconds since a `performance.now()` reading. */
export const seconds = (since: number) => (performance.now() - since) / 1000;
/** The median of the figures of several runs. */
export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Current resident set size of a process in MB, or null once it is gone. */
export const rssMb = (pid: number): number | null => procStatusMb(pid, "VmRSS");

/** Local services mode for a benchmark, quiet; the services' last lines, kept for a failure report. */
export async function startBenchServices(
  workers: number,
  env: Record<string, string>,
  simulators: LocalServicesOptions["simulators"] = false,
): Promise<{ services: LocalServices; processes: Array<{ name: string; pid: number }>; lastLines: () => string[] }> {
  const lines: string[] = [];
  const services = await startLocalServices({
    workers,
    simulators,
    env: { LOG_LEVEL: "error", ...env },
    onOutput: (source, line) => {
      lines.push(`[${source}] ${line}`);
      if (lines.length > 200) lines.splice(0, 100);
    },
  });
  const processes = [
    ...services.pids.workers.map((pid, i) => ({ name: `worker-${i + 1}`, pid })),
    { name: "pool", pid: services.pids.pool },
    { name: "qstash", pid: services.pids.qstash },
    { name: "blob", pid: services.pids.blob },
    { name: "redis-bridge", pid: services.pids.bridge },
  ];
  return { services, processes, lastLines: () => lines.slice(-40) };
}
