/**
 * GET /api/imports/:id/errors: the JSON pages show row errors as they were found; the
 * CSV download (format=csv) holds the same errors, streamed, with every cell a
 * spreadsheet would take for a formula neutralised by a leading `'` (lib/downloads/csv.ts).
 * The dev server runs in process (Blob and QStash stand-ins) on a fresh Postgres.
 */
import Papa from "papaparse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newImportKey } from "../../lib/storage/index.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { availablePostgres } from "../support/databases.js";
import { waitForImport } from "../support/job-status.js";
import type { RowErrorView } from "../../lib/imports/status.js";
import { PURCHASE_HEADER, purchaseRow } from "../support/purchases-csv.js";

const TOKEN = "imports-errors-token-0123456789";
const postgres = availablePostgres();

/** What OWASP's CSV-injection guidance lists, and the same after leading whitespace. */
const FORMULA_START = /^[\t\r]|^\s*[=+\-@]/;
const FILE_NAME = "=SUM(7*6).csv";
/** "No" cells of rows that fail (their Qty is 0): each starts like a formula. */
const FORMULA_CELLS = ["=cmd|' /C calc'!A0", "+1", "-1+1", "@SUM(A1)", " =1+1"];
const BULK_ERRORS = 1_200; // enough rows of errors for the download to take several chunks

type RowError = RowErrorView;

/** A purchase row of order `i` with its "No" cell replaced and a quantity of 0 (bad_qty). */
const badRow = (i: number, no: string) =>
  `${no}${purchaseRow(i).slice(String(i).length)}`.replace(",25000,2,50000,", ",25000,0,50000,");

describe.skipIf(!postgres)("GET /api/imports/:id/errors", () => {
  let app: AppServer;
  let importId: string;


  async function allJsonErrors(): Promise<RowError[]> {
    const errors: RowError[] = [];
    for (let cursor: string | null = ""; cursor !== null; ) {
      const response = await app.api(`/api/imports/${importId}/errors?limit=1000${cursor ? `&cursor=${cursor}` : ""}`);
      const page = (await response.json()) as { errors: RowError[]; next_cursor: string | null };
      errors.push(...page.errors);
      cursor = page.next_cursor;
    }
    return errors;
  }

  beforeAll(async () => {
    app = await startAppServer(TOKEN, {
      DROPFLOW_CHUNK_ROWS: "500",
      DROPFLOW_MAX_DURATION_S: "20",
      DROPFLOW_DEADLINE_MARGIN_S: "1",
      LOG_LEVEL: "error",
    });
    const rows = [
      PURCHASE_HEADER,
      ...FORMULA_CELLS.map((no, k) => badRow(k + 1, no)),
      ...Array.from({ length: BULK_ERRORS }, (_, k) => badRow(100 + k, String(100 + k))),
    ];
    const key = newImportKey("formula.csv");
    await app.server.runtime.objectStore().put(key, Buffer.from(rows.join("\r\n")), { contentType: "text/csv" });
    const created = await app.api("/api/imports", {
      method: "POST",
      body: JSON.stringify({ file_type: "purchases", files: [{ key, name: FILE_NAME }] }),
    });
    expect(created.status).toBe(202);
    importId = ((await created.json()) as { job_id: string }).job_id;
    const status = await waitForImport<{ status: string; counts: Record<string, number> }>(app, importId);
    expect(status.status).toBe("completed_with_errors");
    expect(status.counts.row_errors).toBe(FORMULA_CELLS.length + BULK_ERRORS);
  });
  afterAll(() => app?.close());

  it("shows the file name and raw rows as written in JSON", async () => {
    const errors = await allJsonErrors();
    expect(errors).toHaveLength(FORMULA_CELLS.length + BULK_ERRORS);
    // Chunks run side by side: errors come in the order they were written, not by line.
    const formulaRows = errors.filter((e) => e.line <= FORMULA_CELLS.length + 1).sort((a, b) => a.line - b.line);
    expect(formulaRows).toEqual(
      FORMULA_CELLS.map((no, k) =>
        expect.objectContaining({ file: FILE_NAME, line: k + 2, column: "Qty", code: "bad_qty", raw: badRow(k + 1, no) }),
      ),
    );
  });

  it("downloads every error as CSV (BOM, CRLF) with no cell a spreadsheet would run as a formula", async () => {
    const response = await app.api(`/api/imports/${importId}/errors?format=csv`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(response.headers.get("content-disposition")).toBe(`attachment; filename="import-${importId}-errors.csv"`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const text = new TextDecoder().decode(bytes); // drops a BOM

    const parsed = Papa.parse<string[]>(text, { header: false, delimiter: ",", newline: "\r\n", skipEmptyLines: true });
    expect(parsed.errors).toEqual([]);
    const [header, ...records] = parsed.data;
    expect(header).toEqual(["file", "line", "column", "code", "message", "raw", "sheet", "cell"]);
    for (const cell of parsed.data.flat()) expect(cell).not.toMatch(FORMULA_START);

    // The same errors as the JSON, each formula-like text cell behind a `'`, nothing else changed.
    const neutralised = (value: string | number | null) =>
      value === null ? "" : typeof value === "string" && FORMULA_START.test(value) ? `'${value}` : String(value);
    const errors = await allJsonErrors();
    expect(records).toEqual(errors.map((e) => [e.file, e.line, e.column, e.code, e.message, e.raw, e.sheet, e.cell].map(neutralised)));
    const formulaRecords = records
      .filter((r) => Number(r[1]) <= FORMULA_CELLS.length + 1)
      .sort((a, b) => Number(a[1]) - Number(b[1]));
    expect(formulaRecords.map((r) => r[0])).toEqual(FORMULA_CELLS.map(() => `'${FILE_NAME}`));
    expect(formulaRecords.map((r) => r[5])).toEqual(FORMULA_CELLS.map((no, k) => `'${badRow(k + 1, no)}`));

    // Excel reads UTF-8 only with the BOM; RFC 4180 lines end CRLF.
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(text.endsWith("\r\n")).toBe(true);
    expect(text).not.toMatch(/[^\r]\n/);
  });

  it("applies the code filter to the download too", async () => {
    const none = await app.api(`/api/imports/${importId}/errors?format=csv&code=bad_date`);
    expect(await none.text()).toBe("file,line,column,code,message,raw,sheet,cell\r\n");
  });
});
