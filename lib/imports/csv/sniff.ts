/**
 * File sniffing: from a file's first bytes, refuse what is not a CSV we can read
 * (docs/imports.md lists them: `empty_file`, `not_csv`, `bad_encoding`, `unknown_header`, and
 * `line_too_long` when the header does not end within MAX_HEAD_BYTES, each with a
 * message that says why), detect the delimiter from the header, and find where the
 * data starts. The rest of the file is checked as the planner streams it.
 */
import { badEncodingMessage, completeUtf8Prefix, firstInvalidUtf8, lineOfOffset } from "./encoding.js";
import {
  type HeaderMapping,
  headerProblem,
  isSettlementHeaderRow,
  mapHeader,
  readPreamble,
  type SettlementPreamble,
} from "./headers.js";
import { containerOf, startsWith } from "../xlsx/container.js";
import { byteSize } from "./messages.js";
import { type CsvRecord, DELIMITERS, type Delimiter, RecordReader, utf8BomLength } from "./tokenizer.js";
import type { FileError, FileType } from "./types.js";

/** How much the planner reads before sniffing; it doubles up to MAX_HEAD_BYTES while sniffing asks for more. */
export const HEAD_BYTES = 64 * 1024;
/** The header, and the lines before it, must end within this many bytes of the file's start. */
export const MAX_HEAD_BYTES = 1024 * 1024;
/** The settlement header must be among the first this many records. */
export const MAX_PREAMBLE_RECORDS = 100;

/** Everything needed to read the file's data records, alone or by byte range. */
export interface FileLayout {
  fileType: FileType;
  delimiter: Delimiter;
  header: HeaderMapping;
  /** Physical line of the header record. */
  headerLine: number;
  /** File offset just after the header record: where the data records start. */
  dataStart: number;
  /** Physical line of the first record after the header. */
  dataLine: number;
  /** Settlement files: what the preamble says (null for purchases). */
  preamble: SettlementPreamble | null;
}

export type SniffResult =
  | { status: "ok"; layout: FileLayout }
  | { status: "error"; error: FileError }
  /** The head does not yet hold the header: read more (up to MAX_HEAD_BYTES). */
  | { status: "need_more" };

const ZIP_ADVICE =
  'Open it in Excel and use File > Save As > "CSV UTF-8 (Comma delimited) (*.csv)" for the sheet, then upload that file.';


function isWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;
}

/** UTF-16 text has a NUL in every other byte for Latin script. */
function looksLikeUtf16(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 512) & ~1;
  if (n < 4) return false;
  let even = 0;
  let odd = 0;
  for (let k = 0; k < n; k++) {
    if (bytes[k] === 0) {
      if (k % 2 === 0) even++;
      else odd++;
    }
  }
  return Math.max(even, odd) >= n / 4 && Math.min(even, odd) <= n / 64;
}

/**
 * The byte-level checks: empty, binary, a workbook, not UTF-8. `complete`: `head` is the
 * whole file. Null when the bytes look like text.
 */
export function checkHead(head: Uint8Array, complete: boolean): FileError | "need_more" | null {
  const bom = utf8BomLength(head);
  let k = bom;
  while (k < head.length && isWhitespace(head[k] as number)) k++;
  if (k === head.length) {
    if (!complete) return "need_more";
    return {
      code: "empty_file",
      message: head.length === 0 ? "The file is empty (0 bytes)." : "The file holds no data: only whitespace or a byte-order mark.",
    };
  }
  if (head.length < 8 && !complete) return "need_more";
  // The planner reads these as workbooks before any sniffing; sniffFile on its own still says what they are.
  const container = containerOf(head);
  if (container === "zip") {
    return { code: "not_csv", byteOffset: 0, message: `This is an Excel workbook (.xlsx) or another zip archive, not a CSV file. ${ZIP_ADVICE}` };
  }
  if (container === "cfb") {
    return { code: "not_csv", byteOffset: 0, message: `This is an old Excel workbook (.xls), not a CSV file. ${ZIP_ADVICE}` };
  }
  if (startsWith(head, [0x1f, 0x8b])) {
    return { code: "not_csv", byteOffset: 0, message: "This is a gzip-compressed file, not a CSV file: upload it uncompressed." };
  }
  if (startsWith(head, [0x25, 0x50, 0x44, 0x46, 0x2d])) {
    return { code: "not_csv", byteOffset: 0, message: "This is a PDF document, not a CSV file: export the report as CSV instead." };
  }
  if (startsWith(head, [0xff, 0xfe]) || startsWith(head, [0xfe, 0xff]) || looksLikeUtf16(head)) {
    return {
      code: "bad_encoding",
      byteOffset: 0,
      message: 'The file is UTF-16 ("Unicode text"), not UTF-8: save it again as "CSV UTF-8 (Comma delimited)".',
    };
  }
  const nul = head.indexOf(0);
  if (nul !== -1) {
    return {
      code: "not_csv",
      byteOffset: nul,
      line: lineOfOffset(head, nul),
      message: `This is binary data, not a CSV file: it holds a NUL byte at byte ${nul}. ${ZIP_ADVICE}`,
    };
  }
  const end = complete ? head.length : completeUtf8Prefix(head);
  const bad = firstInvalidUtf8(head, 0, end);
  if (bad !== -1) {
    const line = lineOfOffset(head, bad);
    return { code: "bad_encoding", byteOffset: bad, line, message: badEncodingMessage(head[bad], bad, line) };
  }
  return null;
}

/** Where a line starts that runs past the end of the head. */
interface CutLine {
  line: number;
  byteOffset: number;
}

interface HeadRecords {
  /** The first `limit` records the head decides (all of them when complete). */
  records: CsvRecord[];
  /** A head of MAX_HEAD_BYTES ends inside this record, before `limit` records: it is too long to sniff. */
  cut: CutLine | null;
}

function headRecords(head: Uint8Array, delimiter: Delimiter, complete: boolean, limit: number): HeadRecords {
  const records: CsvRecord[] = [];
  const reader = new RecordReader({ delimiter }, (record) => {
    if (records.length < limit) records.push(record);
  });
  reader.push(head);
  if (complete) reader.end();
  const cut =
    !complete && head.length >= MAX_HEAD_BYTES && records.length < limit && reader.nextByte < head.length
      ? { line: reader.nextLine, byteOffset: reader.nextByte }
      : null;
  return { records, cut };
}

/** The header, or a line before it, runs past MAX_HEAD_BYTES: say so, not that there is no header. */
function lineTooLong({ line, byteOffset }: CutLine, fileType: FileType): FileError {
  const limit = byteSize(MAX_HEAD_BYTES);
  const where =
    line === 1
      ? `Line 1 is longer than ${limit}, the limit for the header line: it has no line end in the file's first ${limit}.`
      : `Line ${line} (from byte ${byteOffset}) does not end within the file's first ${limit}, the limit for the header line and the lines before it.`;
  const advice =
    fileType === "purchases"
      ? "The header of the Jakmall order export should be its first line, one record per line."
      : "The header row (with \"No. Pesanan\" and \"Total Penghasilan\") should follow a few short lines.";
  return { code: "line_too_long", line, byteOffset, message: `${where} Is this the export saved as CSV? ${advice}` };
}

const isBlank = (record: CsvRecord) => !record.error && record.fields.every((field) => field.trim() === "");

interface Candidate {
  delimiter: Delimiter;
  header: CsvRecord;
  mapping: HeaderMapping;
  preamble: CsvRecord[];
}

function bestCandidate(candidates: Candidate[]): Candidate | undefined {
  // Most known columns wins; ties go to the earlier delimiter (`,` before `;` before tab).
  return candidates.reduce<Candidate | undefined>((best, c) => (!best || c.mapping.known > best.mapping.known ? c : best), undefined);
}

interface Candidates {
  candidates: Candidate[];
  /** Where the head ended inside a line, under the first delimiter that found no header before it. */
  cut: CutLine | null;
}

function purchaseCandidates(head: Uint8Array, complete: boolean): Candidates | "need_more" {
  const candidates: Candidate[] = [];
  let cut: CutLine | null = null;
  for (const delimiter of DELIMITERS) {
    // The header is line 1; leading blank lines are tolerated (and still counted).
    const scan = headRecords(head, delimiter, complete, MAX_PREAMBLE_RECORDS);
    const header = scan.records.find((record) => !isBlank(record));
    if (!header) {
      if (!complete && head.length < MAX_HEAD_BYTES) return "need_more";
      cut ??= scan.cut;
      continue;
    }
    candidates.push({ delimiter, header, mapping: mapHeader(header.fields, "purchases"), preamble: [] });
  }
  return { candidates, cut };
}

function settlementCandidates(head: Uint8Array, complete: boolean): Candidates | "need_more" {
  const candidates: Candidate[] = [];
  let cut: CutLine | null = null;
  for (const delimiter of DELIMITERS) {
    const { records, cut: cutHere } = headRecords(head, delimiter, complete, MAX_PREAMBLE_RECORDS);
    const at = records.findIndex((record) => !record.error && isSettlementHeaderRow(record.fields));
    if (at === -1) {
      if (!complete && records.length < MAX_PREAMBLE_RECORDS && head.length < MAX_HEAD_BYTES) return "need_more";
      cut ??= cutHere;
      continue;
    }
    const header = records[at] as CsvRecord;
    candidates.push({ delimiter, header, mapping: mapHeader(header.fields, "settlements"), preamble: records.slice(0, at) });
  }
  return { candidates, cut };
}

/**
 * Sniffs a file from its head. `complete`: the head is the whole file. Answers
 * `need_more` while the head does not yet decide (the caller reads on, up to
 * MAX_HEAD_BYTES, then passes complete or a head of at least that size). Only the
 * first MAX_HEAD_BYTES are looked at.
 */
export function sniffFile(bytes: Uint8Array, options: { fileType: FileType; complete: boolean }): SniffResult {
  const { fileType } = options;
  // However many bytes the caller happened to read (a stream's first chunk may be the
  // whole file), the same bytes decide: a header that ends past the limit is refused
  // whatever the chunking.
  const complete = options.complete && bytes.length <= MAX_HEAD_BYTES;
  const head = bytes.length > MAX_HEAD_BYTES ? bytes.subarray(0, MAX_HEAD_BYTES) : bytes;
  const bytesProblem = checkHead(head, complete);
  if (bytesProblem === "need_more") {
    if (head.length < MAX_HEAD_BYTES) return { status: "need_more" };
    return {
      status: "error",
      error: { code: "unknown_header", message: `No header in the first ${MAX_HEAD_BYTES} bytes: they hold only whitespace.` },
    };
  }
  if (bytesProblem) return { status: "error", error: bytesProblem };

  const scan = fileType === "purchases" ? purchaseCandidates(head, complete) : settlementCandidates(head, complete);
  if (scan === "need_more") return { status: "need_more" };
  const { candidates, cut } = scan;
  const best = bestCandidate(candidates);
  if (!best || best.mapping.known === 0) {
    // No header anywhere, and under some delimiter the head ended inside the line where
    // it would be (`,,,` is blank under `,` but one unknown column under `;`).
    if (cut) return { status: "error", error: lineTooLong(cut, fileType) };
    if (fileType === "settlements") {
      return {
        status: "error",
        error: {
          code: "unknown_header",
          message:
            `No header row holding both "No. Pesanan" and "Total Penghasilan" in the first ${MAX_PREAMBLE_RECORDS} lines ` +
            `(with "," ";" or tab as delimiter). Is this a Shopee income report ("Laporan Penghasilan", sheet Income ` +
            `saved as "CSV UTF-8")?`,
        },
      };
    }
    const shown = best ?? candidates[0];
    const problem = shown ? headerProblem(shown.mapping, shown.header.line) : null;
    return {
      status: "error",
      error: problem ?? { code: "unknown_header", message: "The file has no header line: every line is blank." },
    };
  }
  const problem = headerProblem(best.mapping, best.header.line);
  if (problem) return { status: "error", error: problem };
  return {
    status: "ok",
    layout: {
      fileType,
      delimiter: best.delimiter,
      header: best.mapping,
      headerLine: best.header.line,
      dataStart: best.header.endByte,
      dataLine: best.header.nextLine,
      preamble: fileType === "settlements" ? readPreamble(best.preamble.map((record) => record.fields)) : null,
    },
  };
}
