/**
 * A small streaming .xlsx (SpreadsheetML) writer for the generator and the tests: rows
 * go to disk as they come (a sheet is never held in memory; only the shared-string
 * table, a Map from string to index, and the distinct number formats are), zipped by
 * yazl with backpressure all the way from the row loop to the file.
 *
 * Parts, in zip order: [Content_Types].xml, _rels/.rels, xl/workbook.xml,
 * xl/_rels/workbook.xml.rels, xl/worksheets/sheet1..N.xml, xl/styles.xml and, after
 * the sheets as Excel writes it, xl/sharedStrings.xml (absent with
 * `sharedStrings: false`, where every string is an inline string).
 *
 * Cells: `<c r="B7">` in `<row r="7">`; rows may be skipped (a sparse sheet has no
 * `<row>` element for them) and a null/undefined cell writes no `<c>` at all. Text is
 * escaped for XML (& < > " and CR as a character reference), characters XML 1.0
 * forbids (control characters other than tab, LF and CR, lone surrogates, U+FFFE/F) are
 * dropped, `_xHHHH_` is escaped the way Excel reads it (`_x005F_xHHHH_`), and `<t>`
 * keeps leading/trailing white space with xml:space="preserve". Numbers are written
 * with String(n): integers below 1e21 never in exponent form; NaN and ±Infinity are
 * refused (a caller who needs exact text passes a string). A number with a format
 * (`{ number, format }`, e.g. '#,##0' or 'yyyy-mm-dd' for a date serial) gets a cell
 * format of its own: custom number formats take ids from 164 up, cellXfs 0 is General
 * and each distinct format adds one xf with applyNumberFormat="1".
 *
 * Determinism: the same sheets give the same bytes. Every zip entry has the DOS time
 * 1980-01-01 00:00 (what Excel writes) built from local-time fields and no UTC extended
 * timestamp (forceDosTimestamp), so the time zone does not show; the deflate output is
 * that of the running Node's zlib (the same build gives the same bytes).
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { PassThrough, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ZipFile } from "yazl";

export type XlsxCell =
  /** No `<c>` element at all. */
  | null
  | undefined
  /** A shared string (t="s"), or an inline string (t="inlineStr") with `sharedStrings: false`. */
  | string
  /** A number in the General format. */
  | number
  /** t="b". */
  | boolean
  /** A number with a custom number format ('#,##0', 'yyyy-mm-dd', 'dd/mm/yyyy hh:mm': a date is a serial number with a date format). */
  | { number: number; format: string }
  /** `<f>formula</f>` (no leading "=") with its cached result in `<v>` (a string result is t="str"). */
  | { formula: string; value: number | string }
  /** Always an inline string. */
  | { inline: string }
  /** t="str" without a formula: a string value in `<v>`. */
  | { text: string; raw: true };

export interface XlsxRow {
  /** 1-based Excel row, ascending; rows may be skipped (sparse). */
  row: number;
  /** Index 0 = column A. */
  cells: XlsxCell[];
}

export interface XlsxSheet {
  name: string;
  rows: Iterable<XlsxRow> | AsyncIterable<XlsxRow>;
  /** `<dimension ref>` (e.g. "A1:AM711"), known only to the caller before the rows stream. */
  dimension?: string;
}

export interface XlsxOptions {
  /** Strings as shared strings (default) or inline. */
  sharedStrings?: boolean;
  /** Write the sheets' `dimension` when given (default true). */
  dimension?: boolean;
}

export interface XlsxWritten {
  bytes: number;
  sha256: string;
}

const MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const DOC_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships";
const XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
const MAX_ROWS = 1_048_576;
const MAX_COLUMNS = 16_384;
/** Text handed to a part's stream at a time. */
const CHUNK = 64 * 1024;
/** Local-time fields (DOS timestamps have no zone) and no UTC extra field: the same bytes in every time zone. */
const ENTRY = { mtime: new Date(1980, 0, 1), forceDosTimestamp: true, mode: 0o100644 };

const ILLEGAL_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const HAS_ILLEGAL_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const MARKUP = /[&<>"\r]/;
const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;" };

/** Text (or an attribute value) as XML: markup escaped, CR kept as a reference, characters XML 1.0 forbids dropped. */
export function xmlEscape(text: string): string {
  if (!MARKUP.test(text) && !HAS_ILLEGAL_XML.test(text)) return text;
  return text.replace(ILLEGAL_XML, "").replace(/[&<>"\r]/g, (ch) => ENTITIES[ch] as string);
}

/** A cell string: also `_xHHHH_` escaped, which Excel would otherwise read as the character HHHH. */
function cellText(text: string): string {
  const escaped = xmlEscape(text);
  return escaped.includes("_x") ? escaped.replace(/_(x[0-9A-Fa-f]{4}_)/g, "_x005F_$1") : escaped;
}

function tElement(text: string): string {
  const preserve = /^[ \t\n\r]|[ \t\n\r]$/.test(text);
  return `${preserve ? '<t xml:space="preserve">' : "<t>"}${cellText(text)}</t>`;
}

function numberText(value: number, where: string): string {
  if (!Number.isFinite(value)) throw new RangeError(`${where}: ${value} is not a number a workbook can hold`);
  return Object.is(value, -0) ? "0" : String(value);
}

const columnNames: string[] = [];
/** 0 → "A", 25 → "Z", 26 → "AA", 38 → "AM". */
export function columnName(index: number): string {
  let name = columnNames[index];
  if (name !== undefined) return name;
  name = "";
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  if (index < 1024) columnNames[index] = name;
  return name;
}

const SHEET_NAME_FORBIDDEN = /[:\\/?*[\]]/;
function checkSheetNames(sheets: XlsxSheet[]): void {
  if (sheets.length === 0) throw new Error("a workbook needs at least one sheet");
  const seen = new Set<string>();
  for (const { name } of sheets) {
    if (name.length === 0 || name.length > 31 || SHEET_NAME_FORBIDDEN.test(name) || name.startsWith("'") || name.endsWith("'")) {
      throw new Error(`sheet name "${name}" is not one Excel accepts (1–31 characters, none of : \\ / ? * [ ], no leading or trailing ')`);
    }
    const key = name.toLowerCase();
    if (seen.has(key)) throw new Error(`sheet name "${name}" appears twice`);
    seen.add(key);
  }
}

/** Buffers a part's text and hands it to its stream in chunks, waiting whenever the zip is behind. */
class PartWriter {
  private parts: string[] = [];
  private size = 0;

  constructor(private readonly stream: PassThrough) {}

  async write(text: string): Promise<void> {
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= CHUNK) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const chunk = this.parts.join("");
    this.parts = [];
    this.size = 0;
    if (this.stream.destroyed) throw this.stream.errored ?? new Error("the workbook's zip stream was closed");
    if (!this.stream.write(chunk)) await once(this.stream, "drain");
  }

  async end(): Promise<void> {
    await this.flush();
    this.stream.end();
  }
}

interface Context {
  shared: boolean;
  strings: Map<string, number>;
  stringRefs: number;
  /** Number format → its cellXfs index (1, 2, … in order of first use). */
  formats: Map<string, number>;
}

function stringCell(ref: string, text: string, ctx: Context): string {
  if (!ctx.shared) return `<c r="${ref}" t="inlineStr"><is>${tElement(text)}</is></c>`;
  let index = ctx.strings.get(text);
  if (index === undefined) {
    index = ctx.strings.size;
    ctx.strings.set(text, index);
  }
  ctx.stringRefs++;
  return `<c r="${ref}" t="s"><v>${index}</v></c>`;
}

function cellXml(ref: string, cell: Exclude<XlsxCell, null | undefined>, ctx: Context): string {
  switch (typeof cell) {
    case "string":
      return stringCell(ref, cell, ctx);
    case "number":
      return `<c r="${ref}"><v>${numberText(cell, ref)}</v></c>`;
    case "boolean":
      return `<c r="${ref}" t="b"><v>${cell ? 1 : 0}</v></c>`;
  }
  if ("formula" in cell) {
    const formula = `<f>${xmlEscape(cell.formula.replace(/^=/, ""))}</f>`;
    if (typeof cell.value === "string") return `<c r="${ref}" t="str">${formula}<v>${cellText(cell.value)}</v></c>`;
    return `<c r="${ref}">${formula}<v>${numberText(cell.value, ref)}</v></c>`;
  }
  if ("format" in cell) {
    let style = ctx.formats.get(cell.format);
    if (style === undefined) {
      style = ctx.formats.size + 1;
      ctx.formats.set(cell.format, style);
    }
    return `<c r="${ref}" s="${style}"><v>${numberText(cell.number, ref)}</v></c>`;
  }
  if ("inline" in cell) return `<c r="${ref}" t="inlineStr"><is>${tElement(cell.inline)}</is></c>`;
  if ("text" in cell) return `<c r="${ref}" t="str"><v>${cellText(cell.text)}</v></c>`;
  throw new TypeError(`${ref}: not a cell value: ${JSON.stringify(cell)}`);
}

const DIMENSION = /^[A-Z]{1,3}[1-9][0-9]{0,6}(:[A-Z]{1,3}[1-9][0-9]{0,6})?$/;

async function writeSheet(out: PartWriter, sheet: XlsxSheet, ctx: Context, dimension: boolean): Promise<void> {
  await out.write(`${XML_DECL}<worksheet xmlns="${MAIN_NS}" xmlns:r="${DOC_REL_NS}">`);
  if (dimension && sheet.dimension !== undefined) {
    if (!DIMENSION.test(sheet.dimension)) throw new Error(`sheet "${sheet.name}": dimension "${sheet.dimension}" is not a range like A1:AM711`);
    await out.write(`<dimension ref="${sheet.dimension}"/>`);
  }
  await out.write("<sheetData>");
  let last = 0;
  for await (const { row, cells } of sheet.rows) {
    if (!Number.isInteger(row) || row <= last || row > MAX_ROWS) {
      throw new RangeError(`sheet "${sheet.name}": row ${row} after row ${last} (rows must ascend from 1 to ${MAX_ROWS})`);
    }
    if (cells.length > MAX_COLUMNS) throw new RangeError(`sheet "${sheet.name}" row ${row}: ${cells.length} cells (at most ${MAX_COLUMNS})`);
    last = row;
    let xml = `<row r="${row}">`;
    for (let column = 0; column < cells.length; column++) {
      const cell = cells[column];
      if (cell === null || cell === undefined) continue;
      xml += cellXml(`${columnName(column)}${row}`, cell, ctx);
    }
    await out.write(`${xml}</row>`);
  }
  await out.write("</sheetData></worksheet>");
}

function contentTypes(sheets: number, shared: boolean): string {
  const type = (kind: string) => `application/vnd.openxmlformats-officedocument.spreadsheetml.${kind}+xml`;
  const parts = [`<Override PartName="/xl/workbook.xml" ContentType="${type("sheet.main")}"/>`];
  for (let i = 1; i <= sheets; i++) parts.push(`<Override PartName="/xl/worksheets/sheet${i}.xml" ContentType="${type("worksheet")}"/>`);
  parts.push(`<Override PartName="/xl/styles.xml" ContentType="${type("styles")}"/>`);
  if (shared) parts.push(`<Override PartName="/xl/sharedStrings.xml" ContentType="${type("sharedStrings")}"/>`);
  return (
    `${XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
    `<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
    `<Default Extension="xml" ContentType="application/xml"/>${parts.join("")}</Types>`
  );
}

function packageRels(): string {
  return `${XML_DECL}<Relationships xmlns="${PKG_REL_NS}"><Relationship Id="rId1" Type="${DOC_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>`;
}

function workbookXml(sheets: XlsxSheet[]): string {
  const list = sheets.map((sheet, i) => `<sheet name="${xmlEscape(sheet.name)}" sheetId="${i + 1}" r:id="rId${i + 1}"/>`).join("");
  return `${XML_DECL}<workbook xmlns="${MAIN_NS}" xmlns:r="${DOC_REL_NS}"><bookViews><workbookView/></bookViews><sheets>${list}</sheets></workbook>`;
}

function workbookRels(sheets: number, shared: boolean): string {
  const rels = [];
  for (let i = 1; i <= sheets; i++) rels.push(`<Relationship Id="rId${i}" Type="${DOC_REL_NS}/worksheet" Target="worksheets/sheet${i}.xml"/>`);
  rels.push(`<Relationship Id="rId${sheets + 1}" Type="${DOC_REL_NS}/styles" Target="styles.xml"/>`);
  if (shared) rels.push(`<Relationship Id="rId${sheets + 2}" Type="${DOC_REL_NS}/sharedStrings" Target="sharedStrings.xml"/>`);
  return `${XML_DECL}<Relationships xmlns="${PKG_REL_NS}">${rels.join("")}</Relationships>`;
}

function stylesXml(formats: Map<string, number>): string {
  const custom = [...formats.keys()];
  const numFmts = custom.length
    ? `<numFmts count="${custom.length}">${custom.map((code, i) => `<numFmt numFmtId="${164 + i}" formatCode="${xmlEscape(code)}"/>`).join("")}</numFmts>`
    : "";
  const xfs = ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'];
  custom.forEach((_, i) => xfs.push(`<xf numFmtId="${164 + i}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>`));
  return (
    `${XML_DECL}<styleSheet xmlns="${MAIN_NS}">${numFmts}` +
    `<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>` +
    `<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>` +
    `<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>` +
    `<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>` +
    `<cellXfs count="${xfs.length}">${xfs.join("")}</cellXfs>` +
    `<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>`
  );
}

const ignore = (): void => undefined;

/**
 * Writes `sheets` (in order) as one workbook at `file`, streaming each sheet's rows to
 * disk. Resolves with the file's size and sha256 once it is complete; on any failure the
 * partial file is removed and the error raised.
 */
export async function writeWorkbook(file: string, sheets: XlsxSheet[], options: XlsxOptions = {}): Promise<XlsxWritten> {
  checkSheetNames(sheets);
  const shared = options.sharedStrings ?? true;
  const zip = new ZipFile();
  const hash = createHash("sha256");
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  const output = createWriteStream(file);
  let failure: unknown;
  let current: PassThrough | null = null;
  const fail = (error: unknown) => {
    failure ??= error;
    // A writer waiting for "drain" wakes with the error instead of waiting forever.
    current?.destroy(error instanceof Error ? error : new Error(String(error)));
  };
  const written = pipeline(zip.outputStream, counter, output);
  written.catch(fail);
  zip.on("error", fail);

  const stream = (part: string) => {
    // Room for a few chunks, so the rows are made while the zip deflates the ones before.
    const pass = new PassThrough({ highWaterMark: 4 * CHUNK });
    pass.on("error", ignore);
    current = pass;
    zip.addReadStream(pass, part, ENTRY);
    return new PartWriter(pass);
  };

  try {
    zip.addBuffer(Buffer.from(contentTypes(sheets.length, shared)), "[Content_Types].xml", ENTRY);
    zip.addBuffer(Buffer.from(packageRels()), "_rels/.rels", ENTRY);
    zip.addBuffer(Buffer.from(workbookXml(sheets)), "xl/workbook.xml", ENTRY);
    zip.addBuffer(Buffer.from(workbookRels(sheets.length, shared)), "xl/_rels/workbook.xml.rels", ENTRY);
    const ctx: Context = { shared, strings: new Map(), stringRefs: 0, formats: new Map() };
    for (const [i, sheet] of sheets.entries()) {
      const part = stream(`xl/worksheets/sheet${i + 1}.xml`);
      await writeSheet(part, sheet, ctx, options.dimension ?? true);
      await part.end();
      if (failure) throw failure;
    }
    zip.addBuffer(Buffer.from(stylesXml(ctx.formats)), "xl/styles.xml", ENTRY);
    if (shared) {
      // Streamed too: a table of millions of strings is never one buffer.
      const part = stream("xl/sharedStrings.xml");
      await part.write(`${XML_DECL}<sst xmlns="${MAIN_NS}" count="${ctx.stringRefs}" uniqueCount="${ctx.strings.size}">`);
      for (const text of ctx.strings.keys()) await part.write(`<si>${tElement(text)}</si>`);
      await part.write("</sst>");
      await part.end();
    }
    zip.end();
    await written;
    if (failure) throw failure;
  } catch (error) {
    failure ??= error;
    output.destroy();
    await written.catch(ignore);
    await rm(file, { force: true });
    throw failure;
  }
  return { bytes, sha256: hash.digest("hex") };
}
