/**
 * The alert rules (ops/prometheus/alerts.yml) are valid Prometheus rules, and each
 * fires, or stays quiet, on made-up series as ops/prometheus/alerts.test.yml says:
 * `promtool check rules` and `promtool test rules` (Debian's `prometheus`). Every
 * metric a rule names is one dropflow exposes. Without promtool the suite skips with
 * the banner CI fails on.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { METRIC_DEFINITIONS } from "../../lib/metrics/catalogue.js";
import { skipBanner } from "../support/global-setup.js";

const RULES_DIR = fileURLToPath(new URL("../../ops/prometheus/", import.meta.url));

function findPromtool(): string | null {
  const found = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : null;
}

const promtool = findPromtool();
if (!promtool) process.stderr.write(skipBanner("promtool not found (Debian package `prometheus`)", "alert-rule"));

describe.skipIf(!promtool)("alert rules", () => {
  const run = (...args: string[]) => execFileSync(promtool as string, args, { cwd: RULES_DIR, encoding: "utf8" });

  it("pass promtool check rules", () => {
    expect(run("check", "rules", "alerts.yml")).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("fire and stay quiet as their unit tests say (promtool test rules)", () => {
    expect(run("test", "rules", "alerts.test.yml")).toMatch(/SUCCESS/);
  });
});

describe("alert rules and the metrics", () => {
  it("name only metrics dropflow exposes", () => {
    const rules = readFileSync(path.join(RULES_DIR, "alerts.yml"), "utf8");
    const named = new Set(rules.match(/dropflow_[a-z_]+/g) ?? []);
    const exposed = new Set(METRIC_DEFINITIONS.flatMap((metric) => [metric.name, `${metric.name}_bucket`, `${metric.name}_sum`, `${metric.name}_count`]));
    expect([...named].filter((name) => !exposed.has(name))).toEqual([]);
    expect(named.size).toBeGreaterThan(3);
  });
});
