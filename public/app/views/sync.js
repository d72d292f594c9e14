/**
 * The Sync view: per source (eMAG, SAP Business One) the history of its catalogue sync
 * runs (GET /api/sync/runs?source=) as a chart over time (items created, updated and
 * retired per run, and the 429s the upstream answered) and a table, live while a run
 * goes, and buttons that start a run (POST /api/sync/:source).
 */
import { api, newUuid } from "../api.js";
import { chartCanvas, COLOURS, drawChart, seriesStyle } from "../charts.js";
import { byId, el, fill, say, table } from "../dom.js";
import { count, dateTime, duration, shortDateTime } from "../format.js";
import { poller } from "../poll.js";
import { progressBar } from "../progress.js";
import { isActive, statusBadge } from "../status.js";

const SOURCES = [
  { source: "emag", name: "eMAG" },
  { source: "sap", name: "SAP Business One" },
];
const HISTORY = 30;
/** Item bars stack per run, no wider than this whatever the number of runs. */
const BAR = { stack: "items", maxBarThickness: 56, pointStyle: "rect" };

export function mountSync({ reportError }) {
  const panels = SOURCES.map(({ source, name }) => sourcePanel(byId(`sync-${source}`), source, name));
  const refresh = async () => {
    const running = await Promise.all(panels.map((panel) => panel.refresh()));
    return running.some(Boolean);
  };
  const polling = poller(refresh, reportError);

  const form = byId("sync-form");
  const message = byId("sync-message");
  form.addEventListener("submit", (event) => event.preventDefault());
  for (const button of form.querySelectorAll("button[data-source]")) {
    button.addEventListener("click", async () => {
      const { source, mode } = button.dataset;
      const account = String(new FormData(form).get("account") ?? "").trim();
      button.disabled = true;
      try {
        const started = await api(`/api/sync/${source}`, {
          method: "POST",
          body: account ? { mode, account } : { mode },
          idempotencyKey: newUuid(),
        });
        say(message, `${SOURCES.find((known) => known.source === started.source)?.name ?? started.source} ${started.mode} sync of ${started.account} started.${started.note ? ` ${started.note}` : ""}`, "ok");
        polling.now();
      } catch (error) {
        const hint = error.code === "sync_running" ? " It shows below; start another when it ends." : "";
        say(message, `${error.message}${hint}`, "bad");
      } finally {
        button.disabled = false;
      }
    });
  }

  return {
    show() {
      polling.start();
      polling.now();
    },
    hide() {
      polling.stop();
    },
  };
}

function sourcePanel(section, source, name) {
  const { box, canvas } = chartCanvas(`${name} sync runs over time: items created, updated and retired per run, and 429 answers; the table below has the same numbers.`);
  canvas.dataset.chart = `sync-${source}`;
  const live = el("div", { class: "live-run" });
  const history = el("div");
  section.append(el("figure", {}, el("figcaption", {}, `${name}: the last ${HISTORY} runs`), box), live, history);
  const bar = progressBar(`${name} sync progress`, "items");

  return {
    /** Resolves true while one of its runs goes. */
    async refresh() {
      const { runs } = await api(`/api/sync/runs?source=${source}&limit=${HISTORY}`);
      const oldestFirst = [...runs].reverse();
      drawChart(canvas, {
        data: {
          // Two lines per label: when, and which kind of run.
          labels: oldestFirst.map((run) => [shortDateTime(run.created_at), run.mode]),
          datasets: [
            { type: "bar", label: "Created", data: oldestFirst.map((run) => run.items.created), ...BAR, ...seriesStyle(0) },
            { type: "bar", label: "Updated", data: oldestFirst.map((run) => run.items.updated), ...BAR, ...seriesStyle(1) },
            { type: "bar", label: "Retired", data: oldestFirst.map((run) => run.items.retired), ...BAR, ...seriesStyle(2) },
            {
              type: "line",
              label: "429 answers",
              data: oldestFirst.map((run) => run.requests.throttled_429),
              yAxisID: "throttled",
              borderColor: COLOURS[4],
              backgroundColor: COLOURS[4],
              pointStyle: "triangle",
              pointRadius: 5,
              borderDash: [6, 4],
            },
          ],
        },
        options: {
          scales: {
            x: { stacked: true },
            y: { stacked: true, beginAtZero: true, title: { display: true, text: "items" } },
            throttled: {
              position: "right",
              beginAtZero: true,
              ticks: { precision: 0 },
              grid: { drawOnChartArea: false },
              title: { display: true, text: "429 answers" },
            },
          },
          plugins: { legend: { labels: { usePointStyle: true } } },
        },
      });
      const running = runs.find((run) => isActive(run.status));
      if (running) {
        bar.update(running.progress, true);
        fill(live, el("p", {}, `Running now: ${running.mode} run of ${running.account}, started ${dateTime(running.created_at)}`), bar.node);
      } else {
        fill(live);
      }
      fill(
        history,
        runs.length === 0
          ? el("p", { class: "empty" }, `No ${name} runs yet.`)
          : table({
              caption: `${name} runs, newest first`,
              head: ["Started", "Status", "Mode", "Took", "Created", "Updated", "Retired", "429s", "Unchanged", "Requests", "Account", "By"],
              numeric: [3, 4, 5, 6, 7, 8, 9],
              nowrap: [0],
              rows: runs.map((run) => [
                dateTime(run.created_at),
                el("span", {}, statusBadge(run.status), run.reason ? ` (${run.reason})` : ""),
                run.mode,
                duration(run.duration_s),
                count(run.items.created),
                count(run.items.updated),
                count(run.items.retired),
                count(run.requests.throttled_429),
                count(run.items.unchanged),
                count(run.requests.total),
                run.account,
                run.trigger,
              ]),
            }),
      );
      return Boolean(running);
    },
  };
}
