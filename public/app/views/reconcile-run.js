/**
 * One reconcile run (GET /api/reconcile/:id): its outcome counts and amounts as charts
 * and a table, the aging of its missing settlements, and its results page by page
 * (GET /api/reconcile/:id/results), with cancel and retry.
 */
import { api, download } from "../api.js";
import { chartCanvas, drawChart, rupiahAxis, seriesStyle } from "../charts.js";
import { el, facts, fill, say, table } from "../dom.js";
import { bytes, count, dateTime, rupiah, shortId, words } from "../format.js";
import { progressBar } from "../progress.js";
import { isActive, statusBadge } from "../status.js";

const RESULTS_PAGE = 20;
const AGING_LABELS = { "0-7": "0–7 days", "8-14": "8–14 days", "15-30": "15–30 days", "31+": "31 days or more" };

/** What a run covered, in words. */
export function scopeOf(filters) {
  const parts = [filters.store ?? "every store"];
  if (filters.from || filters.to) parts.push(`${filters.from ?? "…"} to ${filters.to ?? "…"}`);
  if (filters.status) parts.push(`status ${filters.status}`);
  if (filters.tolerance) parts.push(`tolerance Rp ${count(filters.tolerance)}`);
  return parts.join(" · ");
}

export function reconcileRunDetail(panel, { reportError }) {
  let current = null;
  let changed = () => {};

  function build(id) {
    const heading = el("h3", { id: "reconcile-detail-title", tabindex: "-1" }, `Reconcile run ${shortId(id)}`);
    const badge = el("p", { class: "job-status" });
    const bar = progressBar("Reconcile progress", "invoices");
    const summary = el("div");
    const message = el("p", { class: "message", role: "status", hidden: true });
    const cancel = el("button", { type: "button", class: "danger", hidden: true }, "Cancel run");
    const retry = el("button", { type: "button", class: "secondary", hidden: true }, "Retry failed chunks");
    for (const [button, path, done] of [
      [cancel, `/api/jobs/${id}/cancel`, () => "Cancelled."],
      [retry, `/api/jobs/${id}/retry`, (answer) => `${count(answer.retried_chunks)} chunks are running again.`],
    ]) {
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          say(message, done(await api(path, { method: "POST" })), "ok");
          changed();
        } catch (error) {
          say(message, error.message, "bad");
        } finally {
          button.disabled = false;
        }
      });
    }
    const counts = chartCanvas("Invoices per outcome: bar chart; the table below has the same numbers.");
    counts.canvas.dataset.chart = "outcome-counts";
    const amounts = chartCanvas("Expected and actual amounts per outcome: bar chart; the table below has the same numbers.");
    amounts.canvas.dataset.chart = "outcome-amounts";
    const outcomes = el("div");
    const aging = el("div");
    const results = resultsPager(id, reportError);
    fill(
      panel,
      heading,
      badge,
      bar.node,
      summary,
      el("div", { class: "actions" }, retry, cancel),
      message,
      el("h4", {}, "Outcomes"),
      el("div", { class: "chart-pair" }, el("figure", {}, el("figcaption", {}, "Invoices"), counts.box), el("figure", {}, el("figcaption", {}, "Amounts (Rp)"), amounts.box)),
      outcomes,
      el("h4", {}, "Missing settlements by days since the order"),
      aging,
      el("h4", {}, "Results"),
      results.node,
    );
    return { id, heading, badge, bar, summary, cancel, retry, counts, amounts, outcomes, aging, results, wasActive: null };
  }

  function update(view, run) {
    const active = isActive(run.status);
    fill(view.badge, statusBadge(run.status));
    view.bar.update(run.progress, active);
    fill(
      view.summary,
      facts([
        ["Scope", scopeOf(run.filters)],
        ["As of", run.as_of],
        ["Started", dateTime(run.created_at)],
        ["Finished", dateTime(run.finished_at)],
        ["Split invoices", count(run.split_invoices)],
        ...(run.after_import ? [["Started by", el("a", { href: `#imports/${run.after_import}` }, `import ${shortId(run.after_import)}`)]] : []),
        ...(run.last_error ? [["Last error", run.last_error]] : []),
      ]),
    );
    view.cancel.hidden = !active;
    view.retry.hidden = active || run.status === "cancelled" || run.progress.chunks.failed === 0;

    const outcomeNames = Object.keys(run.counts);
    const labels = outcomeNames.map(words);
    drawChart(view.counts.canvas, {
      type: "bar",
      data: { labels, datasets: [{ label: "Invoices", data: outcomeNames.map((name) => run.counts[name]), ...seriesStyle(0) }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, title: { display: true, text: "invoices" } } } },
    });
    drawChart(view.amounts.canvas, {
      type: "bar",
      data: {
        labels,
        datasets: [
          { label: "Expected", data: outcomeNames.map((name) => run.amounts[name].expected), ...seriesStyle(0) },
          { label: "Actual", data: outcomeNames.map((name) => run.amounts[name].actual), ...seriesStyle(1) },
        ],
      },
      options: { scales: { y: rupiahAxis("rupiah") } },
    });
    const totals = outcomeNames.reduce(
      (sum, name) => ({
        invoices: sum.invoices + run.counts[name],
        expected: sum.expected + run.amounts[name].expected,
        actual: sum.actual + run.amounts[name].actual,
        diff: sum.diff + run.amounts[name].diff,
      }),
      { invoices: 0, expected: 0, actual: 0, diff: 0 },
    );
    fill(
      view.outcomes,
      table({
        caption: "Invoices and amounts per outcome",
        head: ["Outcome", "Invoices", "Expected", "Actual", "Difference"],
        numeric: [1, 2, 3, 4],
        rows: outcomeNames.map((name, index) => [
          labels[index],
          count(run.counts[name]),
          rupiah(run.amounts[name].expected),
          rupiah(run.amounts[name].actual),
          rupiah(run.amounts[name].diff),
        ]),
        foot: ["All", count(totals.invoices), rupiah(totals.expected), rupiah(totals.actual), rupiah(totals.diff)],
      }),
    );
    const missing = Object.values(run.aging).reduce((sum, n) => sum + n, 0);
    fill(
      view.aging,
      table({
        caption: `${count(missing)} invoices still wait for their settlement`,
        head: ["Days since the order", "Invoices", "Share"],
        numeric: [1],
        rows: Object.entries(run.aging).map(([bucket, n]) => [AGING_LABELS[bucket] ?? bucket, count(n), shareBar(n, missing)]),
      }),
    );
    // The results grow while the run decides them: read them again when it ends.
    if (view.wasActive && !active) view.results.reload();
    view.wasActive = active;
  }

  return {
    onChange(listener) {
      changed = listener;
    },
    clear() {
      current = null;
      fill(panel, el("h3", { id: "reconcile-detail-title" }, "Run details"), el("p", { class: "empty" }, "Choose a run to see its outcomes, aging and results."));
    },
    async show(id) {
      const run = await api(`/api/reconcile/${encodeURIComponent(id)}`);
      const fresh = current?.id !== id;
      if (fresh) {
        current = build(id);
        current.results.reload();
      }
      update(current, run);
      if (fresh) current.heading.focus();
      return isActive(run.status);
    },
  };
}

/** A share as a bar and its percent in words (the bar is decoration; the words carry it). */
function shareBar(part, whole) {
  const share = whole === 0 ? 0 : Math.round((part / whole) * 100);
  return el("span", { class: "share" }, el("span", { class: "share-bar", style: `width: ${share}%`, "aria-hidden": "true" }), `${share} %`);
}

/** The run's results, filtered by outcome and store, a page at a time, with a CSV download of the filter. */
function resultsPager(runId, reportError) {
  const outcome = el(
    "select",
    { id: "results-outcome", name: "outcome" },
    el("option", { value: "" }, "Every outcome"),
    ["amount_mismatch", "missing_settlement", "orphan_settlement", "returned", "cancelled", "in_progress", "matched"].map((name) =>
      el("option", { value: name, selected: name === "amount_mismatch" }, words(name)),
    ),
  );
  const store = el("input", { id: "results-store", name: "store", list: "store-names", autocomplete: "off" });
  const filter = el(
    "form",
    { class: "inline-form" },
    el("label", { for: "results-outcome" }, "Outcome"),
    outcome,
    el("label", { for: "results-store" }, "Store"),
    store,
    el("button", { type: "submit", class: "secondary" }, "Show"),
  );
  const body = el("div");
  const pageLabel = el("span", { class: "meta", "aria-live": "polite" });
  const previous = el("button", { type: "button", class: "secondary" }, "‹ Previous");
  const next = el("button", { type: "button", class: "secondary" }, "Next ›");
  const csv = el("button", { type: "button", class: "link" }, "Download these results as CSV");
  const message = el("p", { class: "message", role: "status", hidden: true });
  const node = el("div", { class: "results" }, filter, body, el("div", { class: "pager" }, previous, pageLabel, next), csv, message);

  // cursors[i] is the cursor of page i (null: the first page).
  let cursors = [null];
  let page = 0;
  let nextCursor = null;

  const query = (cursor) => {
    const params = new URLSearchParams({ limit: String(RESULTS_PAGE) });
    if (outcome.value) params.set("outcome", outcome.value);
    if (store.value.trim()) params.set("store", store.value.trim());
    if (cursor) params.set("cursor", cursor);
    return params;
  };

  async function load() {
    try {
      const answer = await api(`/api/reconcile/${runId}/results?${query(cursors[page])}`);
      nextCursor = answer.next_cursor;
      fill(
        body,
        answer.results.length === 0
          ? el("p", { class: "empty" }, "No results with this filter.")
          : table({
              head: ["Invoice", "Store", "Outcome", "Expected", "Actual", "Difference", "Order date", "Split"],
              numeric: [3, 4, 5],
              nowrap: [0, 6],
              rows: answer.results.map((result) => [
                el("a", { href: `#invoices?${new URLSearchParams({ invoice: result.invoice, store: result.store })}` }, result.invoice),
                result.store,
                words(result.outcome),
                rupiah(result.expected),
                rupiah(result.actual),
                rupiah(result.diff),
                result.order_date ?? "–",
                result.split_invoice ? "yes" : "no",
              ]),
            }),
      );
      pageLabel.textContent = `Page ${page + 1}`;
      previous.disabled = page === 0;
      next.disabled = nextCursor === null;
      say(message, "");
    } catch (error) {
      say(message, error.message, "bad");
    }
  }

  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    cursors = [null];
    page = 0;
    void load();
  });
  previous.addEventListener("click", () => {
    page = Math.max(0, page - 1);
    void load();
  });
  next.addEventListener("click", () => {
    if (nextCursor === null) return;
    cursors[page + 1] = nextCursor;
    page += 1;
    void load();
  });
  csv.addEventListener("click", async () => {
    const params = query(null);
    params.delete("limit");
    params.set("format", "csv");
    try {
      const saved = await download(`/api/reconcile/${runId}/results?${params}`, `reconcile-${runId}-results.csv`);
      say(message, `Saved ${saved.name} (${bytes(saved.size)}).`, "ok");
    } catch (error) {
      reportError(error);
      say(message, `The download failed: ${error.message}`, "bad");
    }
  });

  return {
    node,
    reload() {
      void load();
    },
  };
}
