/**
 * The Margin view: the margin report (GET /api/reports/margin) by month, store or SKU,
 * for one store or all and a range of order days, as a chart and a table with its
 * totals, and as a CSV download.
 */
import { api, download } from "../api.js";
import { chartCanvas, COLOURS, drawChart, rupiahAxis, seriesStyle } from "../charts.js";
import { byId, el, fill, say, table } from "../dom.js";
import { bytes, count, percent, rupiah, words } from "../format.js";

/**
 * The report's columns as the table shows them (docs/data.md defines each): the
 * outcome first, so it shows without scrolling, then the fees that explain it.
 */
const COLUMNS = [
  ["orders", "Orders", count],
  ["gross_sales", "Gross sales", rupiah],
  ["net_payout", "Net payout", rupiah],
  ["supplier_cost", "Supplier cost", rupiah],
  ["net_margin", "Net margin", rupiah],
  ["net_margin_pct", "Margin %", percent],
  ["unsettled", "Unsettled", rupiah],
  ["admin_fee", "Admin fee", rupiah],
  ["service_fee", "Service fee", rupiah],
  ["ams_commission", "AMS commission", rupiah],
  ["program_fee", "Program fee", rupiah],
  ["campaign_fee", "Campaign fee", rupiah],
  ["seller_voucher", "Seller voucher", rupiah],
  ["refunds", "Refunds", rupiah],
];
/** SKUs are many: the chart shows the first ones, the table all. */
const MAX_CHART_BARS = 40;

export function mountMargin({ reportError }) {
  const form = byId("margin-form");
  const message = byId("margin-message");
  const { box, canvas } = chartCanvas("Gross sales and supplier cost (bars) and net margin (line) per group; the table below has the same numbers.");
  canvas.dataset.chart = "margin";
  byId("margin-chart").append(box);
  const tableBox = byId("margin-table");

  const query = () => {
    const fields = new FormData(form);
    const params = new URLSearchParams({ group: String(fields.get("group") ?? "month") });
    for (const name of ["store", "from", "to"]) {
      const value = String(fields.get(name) ?? "").trim();
      if (value !== "") params.set(name, value);
    }
    return params;
  };

  async function load() {
    try {
      const report = await api(`/api/reports/margin?${query()}`);
      const groupLabel = words(report.group);
      const charted = report.rows.slice(0, MAX_CHART_BARS);
      // Sales and cost as bars on the left axis; the margin, far smaller, as a line on its own axis.
      drawChart(canvas, {
        data: {
          labels: charted.map((row) => row.key ?? "(none)"),
          datasets: [
            { type: "bar", label: "Gross sales", data: charted.map((row) => row.gross_sales), ...seriesStyle(0) },
            { type: "bar", label: "Supplier cost", data: charted.map((row) => row.supplier_cost), ...seriesStyle(1) },
            {
              type: "line",
              label: "Net margin (right axis)",
              data: charted.map((row) => row.net_margin),
              yAxisID: "margin",
              borderColor: COLOURS[2],
              backgroundColor: COLOURS[2],
              pointStyle: "rectRot",
              pointRadius: 5,
            },
          ],
        },
        options: {
          scales: {
            y: rupiahAxis("rupiah"),
            margin: rupiahAxis("net margin, rupiah", { position: "right", grid: { drawOnChartArea: false } }),
          },
        },
      });
      fill(
        tableBox,
        report.rows.length === 0
          ? el("p", { class: "empty" }, "Nothing to report yet: import purchases and settlements, then reconcile.")
          : table({
              caption: `Margin by ${report.group}${report.filters.store ? ` for ${report.filters.store}` : ""}${report.rows.length > MAX_CHART_BARS ? ` (the chart shows the first ${MAX_CHART_BARS})` : ""}`,
              head: [groupLabel, ...COLUMNS.map(([, label]) => label)],
              numeric: COLUMNS.map((_, index) => index + 1),
              nowrap: [0],
              rows: report.rows.map((row) => [row.key ?? "(none)", ...COLUMNS.map(([name, , format]) => format(row[name]))]),
              foot: ["Total", ...COLUMNS.map(([name, , format]) => format(report.totals[name]))],
            }),
      );
      say(message, "");
    } catch (error) {
      say(message, error.message, "bad");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void load();
  });
  byId("margin-csv").addEventListener("click", async () => {
    const params = query();
    params.set("format", "csv");
    try {
      const saved = await download(`/api/reports/margin?${params}`, `margin-by-${params.get("group")}.csv`);
      say(message, `Saved ${saved.name} (${bytes(saved.size)}).`, "ok");
    } catch (error) {
      reportError(error);
      say(message, `The download failed: ${error.message}`, "bad");
    }
  });

  return {
    show() {
      void load();
    },
    hide() {},
  };
}
