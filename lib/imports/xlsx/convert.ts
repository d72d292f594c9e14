/**
 * A workbook's sheet as the CSV the one import pipeline reads: the planner converts the
 * sheet once, stores the CSV beside the workbook, and plans and imports that as any
 * other CSV (docs/imports.md, "Excel workbooks").
 *
 * Line N of the CSV is row N of the sheet, so row errors point at Excel's rows: a row
 * without a `<row>` element (a sparse sheet) is an empty line. Only a cell with line
 * breaks makes a row span more than one line; where that shifts the rows after it, the
 * conversion records a shift (CSV line, Excel row) and row errors are mapped back
 * (excelRowOf). Every row is padded to the sheet's used width, as Excel's own
 * "CSV UTF-8" writes it.
 */
import { rfc4180Field } from "../../downloads/csv.js";
import { canonicalName, FILE_TYPE_LABEL, mapHeader } from "../csv/headers.js";
import { MAX_PREAMBLE_RECORDS, sniffFile } from "../csv/index.js";
import type { FileType } from "../csv/types.js";
import { type CellReading, cellText } from "./cell-text.js";
import { WorkbookError } from "./errors.js";
import type { Workbook, WorkbookRow } from "./workbook.js";

/** Where CSV lines and Excel rows part: from `line` on, line `line + k` is row `row + k`. */
export type RowShift = [line: number, row: number];

export interface SheetConversion {
  sheet: string;
  shifts: RowShift[];
  /** Rows of the sheet written (sparse rows not counted). */
  rows: number;
  bytes: number;
}

/** Wider than any export we read; a `<dimension>` or header past it (a stray cell far right) is not padded to. */
const MAX_PADDED_COLUMNS = 1024;

export function cellReading(workbook: Workbook, fileType: FileType): CellReading {
  return { isDate: workbook.formats.isDate, date1904: workbook.date1904, dateStyle: fileType === "purchases" ? "jakmall" : "iso" };
}

/**
 * The sheet to import: the one named, or the one sheet whose first rows hold the file
 * type's header (what the CSV sniffer accepts). None or several: a WorkbookError whose
 * message lists every sheet and what it lacked.
 */
export async function chooseSheet(workbook: Workbook, fileType: FileType, named: string | null): Promise<ChosenSheet> {
  if (named !== null) {
    if (!workbook.sheets.some((sheet) => sheet.name === named)) {
      throw new WorkbookError(
        "sheet_not_found",
        `The workbook has no sheet "${named}"; its sheets are ${workbook.sheets.map((s) => `"${s.name}"`).join(", ")}.`,
      );
    }
    // A named sheet is imported whatever its header: the CSV planner says what it lacks.
    return { sheet: named, headerWidth: (await headerVerdict(workbook, named, fileType)).headerWidth };
  }
  const verdicts: Array<{ sheet: string } & HeaderVerdict> = [];
  for (const sheet of workbook.sheets) verdicts.push({ sheet: sheet.name, ...(await headerVerdict(workbook, sheet.name, fileType)) });
  const fitting = verdicts.filter((verdict) => verdict.fits);
  if (fitting.length === 1) {
    const [chosen] = fitting as [{ sheet: string } & HeaderVerdict];
    return { sheet: chosen.sheet, headerWidth: chosen.headerWidth };
  }
  if (fitting.length > 1) {
    throw new WorkbookError(
      "ambiguous_sheet",
      `More than one sheet has the header of a ${FILE_TYPE_LABEL[fileType]}: ${fitting.map((v) => `"${v.sheet}"`).join(", ")}. ` +
        "Name the one to import with `sheet`.",
    );
  }
  const lacking = verdicts.map((verdict) => `"${verdict.sheet}" ${verdict.lacks}`).join("; ");
  throw new WorkbookError(
    "no_matching_sheet",
    `No sheet of the workbook has the header of a ${FILE_TYPE_LABEL[fileType]}${verdicts.length === 0 ? ": it has no sheets" : `: ${lacking}`}.`,
  );
}

export interface ChosenSheet {
  sheet: string;
  /** Columns up to the header's last named one (0 when no header was found): every row is padded to at least this. */
  headerWidth: number;
}

interface HeaderVerdict {
  fits: boolean;
  /** Why not, in words ("lacks ...") when it does not fit. */
  lacks: string;
  headerWidth: number;
}

/** Whether the sheet's first rows hold the header, and if not what the nearest row lacked. */
async function headerVerdict(workbook: Workbook, sheet: string, fileType: FileType): Promise<HeaderVerdict> {
  const reading = cellReading(workbook, fileType);
  const rows: Array<{ row: number; fields: string[] }> = [];
  for await (const row of workbook.rows(sheet)) {
    if (row.row > MAX_PREAMBLE_RECORDS) break;
    rows.push({ row: row.row, fields: Array.from(rowFields(row, reading), (field) => field ?? "") });
  }
  if (rows.every((row) => row.fields.every((field) => field.trim() === ""))) return { fits: false, lacks: "is empty", headerWidth: 0 };
  let csv = "";
  let line = 1;
  for (const row of rows) {
    csv += "\r\n".repeat(row.row - line) + row.fields.map(rfc4180Field).join(",") + "\r\n";
    line = row.row + 1;
  }
  const sniffed = sniffFile(Buffer.from(csv), { fileType, complete: true });
  if (sniffed.status === "ok") return { fits: true, lacks: "", headerWidth: sniffed.layout.header.header.length };
  // What the nearest row (the most known columns) lacked, in the export's own column names.
  let best: { row: number; known: number; missing: string[] } | null = null;
  for (const row of rows) {
    const mapping = mapHeader(row.fields, fileType);
    if (!best || mapping.known > best.known) best = { row: row.row, known: mapping.known, missing: mapping.missing };
  }
  if (!best || best.known === 0) return { fits: false, lacks: `has none of its columns in its first ${MAX_PREAMBLE_RECORDS} rows`, headerWidth: 0 };
  const missing = best.missing.map((field) => `"${canonicalName(fileType, field)}"`);
  return {
    fits: false,
    headerWidth: 0,
    lacks: missing.length > 0 ? `lacks ${missing.join(", ")} (its row ${best.row} comes nearest)` : `has no usable header row (row ${best.row} comes nearest)`,
  };
}

/**
 * Writes the sheet as CSV to `write` (which may return a promise: backpressure), at
 * most `maxBytes` of it (a sheet that would convert to more is refused as too large).
 */
export async function writeSheetCsv(
  workbook: Workbook,
  { sheet, headerWidth }: ChosenSheet,
  fileType: FileType,
  write: (text: string) => void | Promise<void>,
  options: { maxBytes: number },
): Promise<SheetConversion> {
  const reading = cellReading(workbook, fileType);
  const lastColumn = await workbook.lastColumn(sheet);
  // The used range, as Excel's CSV pads to it; without a <dimension>, the header's width
  // (a cell right of the header in a row then makes it longer: field_count, as in CSV).
  const width = Math.min(MAX_PADDED_COLUMNS, Math.max(headerWidth, lastColumn === null ? 0 : lastColumn + 1));
  const shifts: RowShift[] = [];
  let line = 1;
  let offset = 0;
  let rows = 0;
  let bytes = 0;
  let pending = "";
  const flush = async () => {
    bytes += Buffer.byteLength(pending);
    if (bytes > options.maxBytes) {
      throw new WorkbookError(
        "workbook_too_large",
        `sheet "${sheet}" converts to more than ${options.maxBytes} bytes of CSV (DROPFLOW_XLSX_MAX_PART_MB): split the workbook`,
      );
    }
    const text = pending;
    pending = "";
    await write(text);
  };
  for await (const row of workbook.rows(sheet)) {
    // Missing rows are empty lines, so the next row's line is its row number.
    if (line < row.row) {
      pending += "\r\n".repeat(row.row - line);
      line = row.row;
    }
    if (line - row.row !== offset) {
      offset = line - row.row;
      shifts.push([line, row.row]);
    }
    const fields = rowFields(row, reading);
    const count = Math.max(width, fields.length);
    let record = "";
    for (let column = 0; column < count; column++) {
      if (column > 0) record += ",";
      const field = fields[column];
      if (field) {
        record += rfc4180Field(field);
        line += lineBreaks(field);
      }
    }
    pending += `${record}\r\n`;
    line += 1;
    rows += 1;
    if (pending.length >= 64 * 1024) await flush();
  }
  await flush();
  return { sheet, shifts, rows, bytes };
}

/** The row's cells as text at their columns (a sparse array: no entry where the row has no cell). */
function rowFields(row: WorkbookRow, reading: CellReading): string[] {
  const fields: string[] = [];
  for (const cell of row.cells) fields[cell.column] = cellText(cell, reading);
  return fields;
}

/** Physical line ends as the CSV tokenizer counts them: CRLF, LF and a lone CR. */
function lineBreaks(text: string): number {
  return text.match(/\r\n|\r|\n/g)?.length ?? 0;
}

/** The Excel row of a record starting on CSV `line`, given the conversion's shifts (sorted by line). */
export function excelRowOf(line: number, shifts: readonly RowShift[]): number {
  let row = line;
  for (const [shiftLine, shiftRow] of shifts) {
    if (shiftLine > line) break;
    row = shiftRow + (line - shiftLine);
  }
  return row;
}

/** The shifts that decide the rows of lines [from, to): the last one before `from` and those inside. */
export function shiftsWithin(shifts: readonly RowShift[], from: number, to: number | null): RowShift[] {
  // Shifts are in line order: two binary searches, not a pass over every shift per chunk
  // (a sheet with a line break in every row has one shift a row).
  const inside = firstFrom(shifts, from + 1);
  const end = to === null ? shifts.length : firstFrom(shifts, to);
  return shifts.slice(Math.max(0, inside - 1), end);
}

/** The index of the first shift at `line` or later (shifts.length when none is). */
function firstFrom(shifts: readonly RowShift[], line: number): number {
  let low = 0;
  let high = shifts.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((shifts[middle] as RowShift)[0] < line) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** 0 -> "A", 27 -> "AB". */
export function columnLetters(column: number): string {
  let letters = "";
  for (let n = column + 1; n > 0; n = Math.floor((n - 1) / 26)) letters = String.fromCharCode(65 + ((n - 1) % 26)) + letters;
  return letters;
}

/** A cell as Excel writes a reference to it: `Income!H57`, `'Service Fee'!A3`. */
export function cellReference(sheet: string, column: number | null, row: number): string {
  const name = /^[A-Za-z_][A-Za-z0-9_.]*$/.test(sheet) ? sheet : `'${sheet.replaceAll("'", "''")}'`;
  return column === null ? `${name}!${row}:${row}` : `${name}!${columnLetters(column)}${row}`;
}
