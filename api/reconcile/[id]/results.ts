import type { Database } from "../../../lib/db/client.js";
import { type CsvRow, csvDownload } from "../../../lib/downloads/csv.js";
import { json, route } from "../../../lib/http/index.js";
import {
  decodeResultCursor,
  encodeResultCursor,
  listResults,
  type ResultFilter,
  type ResultPage,
  ResultQuery,
} from "../../../lib/reconcile/results.js";
import { requireReconcile } from "../../../lib/reconcile/status.js";
import { resolveStore } from "../../../lib/stores/resolve.js";

const CSV_HEADER: CsvRow = ["store", "invoice", "outcome", "expected", "actual", "diff", "split_invoice", "order_date"];
/** Rows per query while streaming the CSV: one page is what the download holds in memory. */
const CSV_PAGE_ROWS = 5000;

/** A run's results, page by page (JSON) or all of them as one streamed CSV download. */
export const GET = route({ operation: "listReconcileResults", auth: "api", query: ResultQuery }, async ({ query, runtime }) => {
  const engine = await runtime.engine();
  const job = await requireReconcile(engine, query.id);
  const { db } = await runtime.database();
  const filter: ResultFilter = {
    outcome: query.outcome,
    storeId: query.store === undefined ? undefined : (await resolveStore(db, query.store, { location: "query" })).id,
  };
  if (query.format === "csv") {
    return csvDownload(`reconcile-${job.id}-results.csv`, CSV_HEADER, resultRecords(db, job.id, filter));
  }
  const after = query.cursor === undefined ? undefined : decodeResultCursor(query.cursor);
  const page = await listResults(db, job.id, { ...filter, after, limit: query.limit });
  return json({ results: page.results, next_cursor: page.next === null ? null : encodeResultCursor(page.next) } satisfies ResultPage);
});

async function* resultRecords(db: Database, jobId: string, filter: ResultFilter): AsyncGenerator<CsvRow> {
  let after: Parameters<typeof listResults>[2]["after"];
  for (;;) {
    const page = await listResults(db, jobId, { ...filter, after, limit: CSV_PAGE_ROWS });
    for (const r of page.results) {
      yield [r.store, r.invoice, r.outcome, r.expected, r.actual, r.diff, String(r.split_invoice), r.order_date];
    }
    if (page.next === null) return;
    after = page.next;
  }
}
