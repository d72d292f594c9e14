/**
 * Reading an .xlsx workbook as a stream: its sheets by name, and one sheet's rows in
 * order with their cells as stored, shared strings resolved. Only the shared strings
 * are held; a sheet's XML is inflated and parsed as it is read (yauzl for the zip,
 * saxes for the XML). Cells keep Excel's own value text; what a person sees (dates by
 * number format, money) is cell-text.ts.
 */
import path from "node:path/posix";
import { WorkbookError } from "./errors.js";
import { readSharedStrings, type SharedStrings } from "./shared-strings.js";
import { type CellFormats, readCellFormats } from "./styles.js";
import { parsePart, partParser, partText, writeXml } from "./xml.js";
import { openWorkbookZip, type WorkbookZip, type ZipLimits } from "./zip.js";

export interface SheetInfo {
  name: string;
  /** The sheet's part in the zip, e.g. xl/worksheets/sheet2.xml. */
  part: string;
}

/** A cell as stored: `kind` from its `t` attribute, `value` its text (a shared string resolved). */
export interface WorkbookCell {
  /** 0-based column (A = 0). */
  column: number;
  /** The cell's reference, e.g. "B7". */
  ref: string;
  kind: "number" | "string" | "boolean" | "error" | "date";
  value: string;
  /** Index into the workbook's cell formats (its number format decides whether a number is a date). */
  style: number;
  /** The cell holds a formula; `value` is its cached result. */
  formula: boolean;
}

export interface WorkbookRow {
  /** 1-based row number as Excel shows it (rows without a `<row>` element are simply absent). */
  row: number;
  cells: WorkbookCell[];
}

export interface Workbook {
  sheets: SheetInfo[];
  sharedStrings: SharedStrings;
  formats: CellFormats;
  /** Serial numbers count from 1904 (workbooks from old Mac Excel), not 1900. */
  date1904: boolean;
  rows(sheet: string): AsyncGenerator<WorkbookRow>;
  /** The sheet's used range as its `<dimension>` says (null without one): its last column, 0-based. */
  lastColumn(sheet: string): Promise<number | null>;
  close(): void;
}

export interface WorkbookLimits extends ZipLimits {
  maxSharedStringBytes: number;
}

export async function openWorkbook(file: string, options: WorkbookLimits): Promise<Workbook> {
  const zip = await openWorkbookZip(file, options);
  try {
    if (!zip.has("xl/workbook.xml")) throw new WorkbookError("not_a_workbook", "a zip file, but not an .xlsx workbook: it has no xl/workbook.xml");
    const targets = await readRelationships(zip, "xl/_rels/workbook.xml.rels");
    const { sheets, date1904 } = await readSheets(zip, targets);
    const partOf = (type: string) => [...targets.values()].find((target) => target.type.endsWith(type))?.part ?? null;
    const formats = await readCellFormats(zip, partOf("/styles"));
    const sharedStrings = await readSharedStrings(zip, partOf("/sharedStrings"), options.maxSharedStringBytes);
    const sheetPart = (name: string) => {
      const sheet = sheets.find((candidate) => candidate.name === name);
      if (!sheet) {
        throw new WorkbookError("sheet_not_found", `no sheet named "${name}" (the workbook has ${sheets.map((s) => `"${s.name}"`).join(", ")})`);
      }
      return sheet.part;
    };
    return {
      sheets,
      sharedStrings,
      formats,
      date1904,
      rows: (name) => readRows(zip, sheetPart(name), sharedStrings),
      lastColumn: (name) => readLastColumn(zip, sheetPart(name)),
      close: () => zip.close(),
    };
  } catch (error) {
    zip.close();
    throw error;
  }
}

async function readRelationships(zip: WorkbookZip, part: string): Promise<Map<string, { type: string; part: string }>> {
  const targets = new Map<string, { type: string; part: string }>();
  if (!zip.has(part)) return targets;
  await parsePart(zip, part, (parser) => {
    parser.on("opentag", (tag) => {
      if (tag.name !== "Relationship") return;
      const id = String(tag.attributes.Id ?? "");
      const target = String(tag.attributes.Target ?? "");
      // Targets are relative to xl/ unless absolute (a leading "/": from the package root).
      const resolved = target.startsWith("/") ? target.slice(1) : path.normalize(path.join("xl", target));
      targets.set(id, { type: String(tag.attributes.Type ?? ""), part: resolved });
    });
  });
  return targets;
}

async function readSheets(
  zip: WorkbookZip,
  targets: Map<string, { type: string; part: string }>,
): Promise<{ sheets: SheetInfo[]; date1904: boolean }> {
  const sheets: SheetInfo[] = [];
  let date1904 = false;
  await parsePart(zip, "xl/workbook.xml", (parser) => {
    parser.on("opentag", (tag) => {
      if (tag.name === "workbookPr") {
        const value = String(tag.attributes.date1904 ?? "").toLowerCase();
        date1904 = value === "1" || value === "true";
      }
      if (tag.name !== "sheet") return;
      const id = Object.entries(tag.attributes).find(([name]) => name === "r:id" || name.endsWith(":id"))?.[1];
      const target = targets.get(String(id ?? ""));
      if (target && zip.has(target.part)) sheets.push({ name: String(tag.attributes.name ?? ""), part: target.part });
    });
  });
  return { sheets, date1904 };
}

/** Reads the sheet only up to its `<dimension>` (it comes before the rows), e.g. ref="A1:AM711" -> 38. */
async function readLastColumn(zip: WorkbookZip, part: string): Promise<number | null> {
  const parser = partParser(part);
  let found: number | null | undefined;
  parser.on("opentag", (tag) => {
    if (found !== undefined) return;
    if (tag.name === "dimension") {
      const last = String(tag.attributes.ref ?? "").split(":").at(-1) ?? "";
      const column = columnIndex(last);
      found = column >= 0 ? column : null;
    } else if (tag.name === "sheetData") found = null;
  });
  for await (const text of partText(zip, part)) {
    writeXml(parser, part, text);
    if (found !== undefined) break;
  }
  return found ?? null;
}

/** "AB12" -> 27 (0-based column). */
export function columnIndex(ref: string): number {
  let column = 0;
  for (const char of ref) {
    const code = char.charCodeAt(0);
    if (code < 65 || code > 90) break;
    column = column * 26 + (code - 64);
  }
  return column - 1;
}

const KINDS: Record<string, WorkbookCell["kind"]> = { s: "string", str: "string", inlineStr: "string", b: "boolean", e: "error", d: "date", n: "number" };

async function* readRows(zip: WorkbookZip, part: string, sharedStrings: SharedStrings): AsyncGenerator<WorkbookRow> {
  const done: WorkbookRow[] = [];
  let row: WorkbookRow | null = null;
  let cell: (WorkbookCell & { type: string }) | null = null;
  let text: "value" | "inline" | null = null;
  let lastRow = 0;
  let lastColumn = -1;
  const parser = partParser(part);
  parser.on("opentag", (tag) => {
    const attributes = tag.attributes as Record<string, string>;
    if (tag.name === "row") {
      // r is optional: without it a row follows the one before.
      lastRow = attributes.r ? Number(attributes.r) : lastRow + 1;
      lastColumn = -1;
      row = { row: lastRow, cells: [] };
    } else if (tag.name === "c" && row) {
      const ref = attributes.r ?? "";
      const column = ref ? columnIndex(ref) : lastColumn + 1;
      lastColumn = column;
      const type = attributes.t ?? "n";
      cell = { column, ref: ref || `#${column}`, kind: KINDS[type] ?? "number", value: "", style: Number(attributes.s ?? 0), formula: false, type };
    } else if (tag.name === "f" && cell) cell.formula = true;
    else if (tag.name === "v" && cell) text = "value";
    else if (tag.name === "t" && cell && cell.type === "inlineStr") text = "inline";
  });
  parser.on("text", (chunk) => {
    if (text && cell) cell.value += chunk;
  });
  parser.on("closetag", (tag) => {
    if (tag.name === "v" || tag.name === "t") text = null;
    else if (tag.name === "c" && cell && row) {
      const { type, ...stored } = cell;
      if (type === "s") stored.value = sharedStrings.at(Number(stored.value)) ?? "";
      // A cell with neither value nor formula is formatting only: not a value.
      if (stored.value !== "" || stored.formula) row.cells.push(stored);
      cell = null;
    } else if (tag.name === "row" && row) {
      done.push(row);
      row = null;
    }
  });
  for await (const text of partText(zip, part)) {
    writeXml(parser, part, text);
    while (done.length > 0) yield done.shift() as WorkbookRow;
  }
  writeXml(parser, part, null);
  while (done.length > 0) yield done.shift() as WorkbookRow;
}
