/**
 * A live progress bar: a real <progress> (the browser exposes it as a progressbar with
 * its value) with the same facts in words beside it: percent, how many of how many,
 * rate, time left or how long it has stalled.
 */
import { el } from "./dom.js";
import { count, duration, rate } from "./format.js";

/**
 * `label` names the bar for assistive technology ("Import progress"); `unit` is what
 * its rows are ("rows", "invoices", "items"). Returns the node and `update(progress, active)`
 * taking the API's `progress` object (GET /api/jobs/:id).
 */
export function progressBar(label, unit) {
  const bar = el("progress", { max: "100", "aria-label": label });
  const text = el("p", { class: "progress-text" });
  const node = el("div", { class: "progress" }, bar, text);
  return {
    node,
    update(progress, active) {
      const { percent, rows, rate_per_s: perSecond, eta_s: eta, stalled_for_s: stalled } = progress;
      const handled = rows.done + rows.failed;
      if (percent === null) {
        bar.removeAttribute("value"); // indeterminate: an open-ended run whose total is not known yet
        bar.setAttribute("aria-valuetext", `${count(handled)} ${unit} so far`);
      } else {
        bar.value = percent;
        bar.setAttribute("aria-valuetext", `${Math.floor(percent)} %`);
      }
      const parts = [
        percent === null ? "–" : `${Math.floor(percent)} %`,
        rows.total > 0 ? `${count(handled)} of ${count(rows.total)} ${unit}` : `${count(handled)} ${unit}`,
      ];
      if (rows.failed > 0) parts.push(`${count(rows.failed)} failed`);
      if (active) {
        const speed = rate(perSecond, unit);
        if (speed) parts.push(speed);
        if (stalled !== null) parts.push(`stalled for ${duration(stalled)}`);
        else if (eta !== null) parts.push(`about ${duration(eta)} left`);
      }
      text.textContent = parts.join(" · ");
    },
  };
}
