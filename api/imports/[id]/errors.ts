import type { Database } from "../../../lib/db/client.js";
import { type CsvRow, csvDownload } from "../../../lib/downloads/csv.js";
import { json, route } from "../../../lib/http/index.js";
import { listRowErrors, requireImport, type RowErrorPage, RowErrorQuery } from "../../../lib/imports/status.js";

// sheet and cell came with workbooks: appended, so readers of the earlier columns by position keep working.
const CSV_HEADER: CsvRow = ["file", "line", "column", "code", "message", "raw", "sheet", "cell"];
/** Rows per query while streaming the CSV: one page is what the download holds in memory. */
const CSV_PAGE_ROWS = 5000;

/** Row errors of an import, page by page (JSON) or all of them as one streamed CSV download. */
export const GET = route({ operation: "listImportErrors", auth: "api", query: RowErrorQuery }, async ({ query, runtime }) => {
  const engine = await runtime.engine();
  const job = await requireImport(engine, query.id);
  const { db } = await runtime.database();
  const filter = { code: query.code, fileId: query.file };
  if (query.format === "csv") {
    return csvDownload(`import-${job.id}-errors.csv`, CSV_HEADER, rowErrorRecords(db, job.id, filter));
  }
  const page = await listRowErrors(db, job.id, { ...filter, afterId: query.cursor, limit: query.limit });
  return json({ errors: page.errors, next_cursor: page.nextId === null ? null : String(page.nextId) } satisfies RowErrorPage);
});

/** Every row error of the import as CSV records, one page queried at a time. */
async function* rowErrorRecords(
  db: Database,
  jobId: string,
  filter: { code?: string; fileId?: string },
): AsyncGenerator<CsvRow> {
  let afterId: number | undefined;
  for (;;) {
    const page = await listRowErrors(db, jobId, { ...filter, afterId, limit: CSV_PAGE_ROWS });
    for (const e of page.errors) yield [e.file, e.line, e.column, e.code, e.message, e.raw, e.sheet, e.cell];
    if (page.nextId === null) return;
    afterId = page.nextId;
  }
}
