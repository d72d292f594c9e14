import { type CsvRow, csvDownload } from "../../lib/downloads/csv.js";
import { json, route } from "../../lib/http/index.js";
import { MARGIN_COLUMNS, type MarginFigures, type MarginReportAnswer, MarginReportQuery, marginReport } from "../../lib/reports/margin.js";
import { resolveStore } from "../../lib/stores/resolve.js";

/** The margin report by month, store or SKU, with its totals; JSON, or CSV with a TOTAL row. */
export const GET = route({ operation: "getMarginReport", auth: "api", query: MarginReportQuery }, async ({ query, runtime }) => {
  const { db } = await runtime.database();
  const store = query.store === undefined ? null : await resolveStore(db, query.store, { location: "query" });
  const report = await marginReport(db, {
    store_ids: store === null ? null : [store.id],
    from: query.from ?? null,
    to: query.to ?? null,
    group: query.group,
  });
  if (query.format === "csv") {
    const line = (key: string | null, figures: MarginFigures): CsvRow => [key, ...MARGIN_COLUMNS.map((column) => figures[column])];
    async function* records(): AsyncGenerator<CsvRow> {
      for (const row of report.rows) yield line(row.key, row);
      yield line("TOTAL", report.totals);
    }
    return csvDownload(`margin-by-${report.group}.csv`, [report.group, ...MARGIN_COLUMNS], records());
  }
  return json({
    group: report.group,
    filters: { store: store?.name ?? null, from: query.from ?? null, to: query.to ?? null },
    rows: report.rows,
    totals: report.totals,
  } satisfies MarginReportAnswer);
});
