/** The health line in the header (GET /api/health, public): up or down, and what is down. */
import { el, fill } from "../dom.js";

const HEALTH_EVERY_MS = 30_000;

export function mountHealth(node) {
  async function check() {
    try {
      const response = await fetch("/api/health", { headers: { accept: "application/json" } });
      const report = await response.json();
      const ok = report.status === "ok";
      node.className = `health tone-${ok ? "ok" : "bad"}`;
      fill(
        node,
        el("span", { "aria-hidden": "true" }, ok ? "✓ " : "✕ "),
        ok ? "All services up" : `Down: ${report.down.join(", ")}`,
        el("span", { class: "version" }, ` · v${report.version}`),
      );
    } catch (error) {
      node.className = "health tone-bad";
      fill(node, el("span", { "aria-hidden": "true" }, "✕ "), `The API does not answer (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  void check();
  setInterval(() => void check(), HEALTH_EVERY_MS);
}
