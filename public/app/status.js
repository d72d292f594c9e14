/**
 * Job statuses as the page shows them: an icon and a word beside the colour, so that a
 * status never depends on colour alone.
 */
import { el } from "./dom.js";
import { words } from "./format.js";

const STATUSES = {
  queued: { icon: "…", tone: "info", text: "Queued" },
  planning: { icon: "◔", tone: "info", text: "Planning" },
  running: { icon: "▶", tone: "info", text: "Running" },
  completed: { icon: "✓", tone: "ok", text: "Completed" },
  completed_with_errors: { icon: "⚠", tone: "warn", text: "Completed with errors" },
  completed_with_gaps: { icon: "⚠", tone: "warn", text: "Completed with gaps" },
  failed: { icon: "✕", tone: "bad", text: "Failed" },
  cancelled: { icon: "⊘", tone: "muted", text: "Cancelled" },
};

/** Still going: the page keeps polling it. */
export function isActive(status) {
  return status === "queued" || status === "planning" || status === "running";
}

/** `<span class="badge tone-ok"><span aria-hidden>✓</span> Completed</span>`; unknown statuses read as their words. */
export function statusBadge(status) {
  const known = STATUSES[status] ?? { icon: "•", tone: "muted", text: words(status) };
  return el("span", { class: `badge tone-${known.tone}`, dataset: { status } }, el("span", { "aria-hidden": "true" }, known.icon), ` ${known.text}`);
}
