/**
 * Dependency checks for GET /api/health: each one answers up/down with its latency,
 * bounded by a timeout, and never with internals (no hosts, no messages from drivers).
 */
import { z } from "zod";
import { logger } from "../log/index.js";

const CHECK_NAMES = ["db", "kv", "queue", "storage"] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

const CheckResultSchema = z.discriminatedUnion("status", [
  z.object({ status: z.literal("ok"), latency_ms: z.number() }),
  z.object({
    status: z.literal("down"),
    latency_ms: z.number(),
    error: z.string().describe('"unreachable" or the timeout: never a host or a driver\'s message'),
  }),
  z.object({ status: z.literal("not_configured") }),
]);
export type CheckResult = z.infer<typeof CheckResultSchema>;

/** GET /api/health's answer (200 when `status` is ok, else 503). */
export const HealthReportSchema = z.object({
  status: z.enum(["ok", "down"]),
  version: z.string(),
  down: z.array(z.enum(CHECK_NAMES)).describe("The dependencies that are down, by name."),
  checks: z.object({ db: CheckResultSchema, kv: CheckResultSchema, queue: CheckResultSchema, storage: CheckResultSchema }),
});
export type HealthReport = z.infer<typeof HealthReportSchema>;

/** A probe resolves when the dependency answers; `null` means the port is not configured. */
export type Probe = (() => Promise<void>) | null;

const log = logger("health");

export async function checkHealth(
  version: string,
  probes: Record<CheckName, Probe>,
  timeoutMs = 3000,
): Promise<HealthReport> {
  const names = Object.keys(probes) as CheckName[];
  const results = await Promise.all(names.map((name) => runProbe(name, probes[name], timeoutMs)));
  const checks = Object.fromEntries(names.map((name, i) => [name, results[i]])) as Record<CheckName, CheckResult>;
  const down = names.filter((name) => checks[name].status === "down");
  return { status: down.length === 0 ? "ok" : "down", version, down, checks };
}

async function runProbe(name: CheckName, probe: Probe, timeoutMs: number): Promise<CheckResult> {
  if (probe === null) return { status: "not_configured" };
  const startedAt = performance.now();
  const latency = () => Math.round((performance.now() - startedAt) * 10) / 10;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const outcome = await Promise.race([probe().then(() => "ok" as const), timeout]);
    if (outcome === "timeout")
      return { status: "down", latency_ms: latency(), error: `no answer within ${timeoutMs} ms` };
    return { status: "ok", latency_ms: latency() };
  } catch (error) {
    log.warn("health check failed", { check: name, err: error });
    return { status: "down", latency_ms: latency(), error: "unreachable" };
  } finally {
    clearTimeout(timer);
  }
}
