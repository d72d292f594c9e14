/**
 * The one CSV writer of every download (import row errors; reconcile results and
 * reports, when built, too). The import reader is lib/imports/csv/; this is its opposite number
 * for files we hand out, which people open in Excel, LibreOffice or Google Sheets.
 *
 * - Spreadsheet-safe text: a text cell that a spreadsheet would read as a formula
 *   (OWASP "CSV Injection") gets a leading `'`. Row errors echo what sellers and
 *   marketplaces wrote (file names, raw rows), so `=cmd|' /C calc'!A0` must open as
 *   text, not run. See FORMULA_START.
 * - RFC 4180: comma, CRLF line ends, a cell with a quote, comma, CR or LF (or a
 *   neutralised one) in double quotes with its quotes doubled.
 * - A UTF-8 BOM first: without it Excel reads the file in the machine's ANSI code page
 *   and mangles non-ASCII names (Romanian, Indonesian). Our own import reader, papaparse
 *   and most tools skip it.
 * - Streamed: rows are pulled from an async source only as the client reads, so a
 *   download of a million rows holds one source page and one chunk in memory.
 *
 * docs/imports.md ("Downloading row errors") states the rule for users.
 */

/** Numbers are values we write (line numbers, counts) and pass through as they are. */
export type CsvValue = string | number | null;
export type CsvRow = readonly CsvValue[];

/**
 * OWASP's list is the first character: `=`, `+`, `-`, `@`, TAB, CR. We also look past
 * leading whitespace (spaces, LF, NBSP, …) for `=`, `+`, `-`, `@`: importers that trim
 * cells (LibreOffice's "Trim spaces", Google Sheets) would otherwise see ` =1+1` as a
 * formula. A harmless ` -5` then reads `' -5`: a visible quote in a text cell is a small
 * price next to a formula that runs.
 */
const FORMULA_START = /^[\t\r]|^\s*[=+\-@]/;
const NEEDS_QUOTES = /[",\r\n]/;

const UTF8_BOM = "\uFEFF";
const LINE_END = "\r\n";
/** Rows are gathered into chunks of about this many characters: few, not huge, writes. */
const CHUNK_CHARS = 64 * 1024;
/** What a filename in `content-disposition` may be made of: no quoting, no encoding needed. */
const SAFE_FILENAME = /^[A-Za-z0-9._-]{1,200}$/;

/** One cell as written: neutralised if it would start a formula, quoted as RFC 4180 asks. */
export function csvCell(value: CsvValue): string {
  if (value === null) return "";
  if (typeof value === "number") return String(value);
  const neutralised = FORMULA_START.test(value);
  return neutralised ? `"'${value.replaceAll('"', '""')}"` : rfc4180Field(value);
}

/**
 * Text as an RFC 4180 field, nothing neutralised: quoted when it holds a quote, a comma
 * or a line end. For CSV the importer itself reads back (a workbook's sheet converted),
 * never for a download a person opens.
 */
export function rfc4180Field(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One record with its CRLF. */
export function csvLine(row: CsvRow): string {
  return row.map(csvCell).join(",") + LINE_END;
}

/**
 * The file as bytes: BOM, header, then the rows as the reader asks for them. An error
 * from `rows` errors the stream (its consumer sees a failed download, never a short
 * file that looks whole); cancelling the stream (the client went away) ends `rows`.
 */
export function csvStream(header: CsvRow, rows: AsyncIterable<CsvRow>): ReadableStream<Uint8Array> {
  return streamRows(header, null, rows[Symbol.asyncIterator]());
}

/**
 * A download response: `text/csv; charset=utf-8`, `attachment; filename="<filename>"`.
 * The first row is read before answering, so a failure there (the database gone) is
 * still the route's JSON problem; a later one can only cut the stream (lib/http/route.ts
 * logs it).
 */
export async function csvDownload(filename: string, header: CsvRow, rows: AsyncIterable<CsvRow>): Promise<Response> {
  if (!SAFE_FILENAME.test(filename)) throw new Error(`Unsafe download filename: ${JSON.stringify(filename)}`);
  const source = rows[Symbol.asyncIterator]();
  const first = await source.next();
  return new Response(streamRows(header, first, source), {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="${filename}"`,
      // A browser must not take seller-written text for HTML.
      "x-content-type-options": "nosniff",
    },
  });
}

function streamRows(
  header: CsvRow,
  first: IteratorResult<CsvRow> | null,
  source: AsyncIterator<CsvRow>,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let pending = first;
  let text = UTF8_BOM + csvLine(header);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (text.length < CHUNK_CHARS) {
        const next = pending ?? (await source.next());
        pending = null;
        if (next.done) {
          if (text !== "") controller.enqueue(encoder.encode(text));
          controller.close();
          return;
        }
        text += csvLine(next.value);
      }
      controller.enqueue(encoder.encode(text));
      text = "";
    },
    async cancel() {
      await source.return?.();
    },
  });
}
