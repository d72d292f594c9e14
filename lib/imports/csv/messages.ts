/**
 * Words for the CSV layer's refusals that more than one module says: limits in the
 * units they are set in, and the row error of a record the tokenizer could not read
 * (both row validators report it the same way).
 */
import { MAX_QUOTED_FIELD_BYTES } from "./scanner.js";
import type { RecordError } from "./types.js";

const KIB = 1024;
const MIB = 1024 * KIB;

/** A byte count as the limits are set: "64 KiB", "1 MiB" (bytes when neither divides it). */
export function byteSize(bytes: number): string {
  if (bytes >= MIB && bytes % MIB === 0) return `${bytes / MIB} MiB`;
  if (bytes >= KIB && bytes % KIB === 0) return `${bytes / KIB} KiB`;
  return `${bytes} bytes`;
}

/** Line ends in `text` as the tokenizer counts physical lines: CRLF, LF and a lone CR. */
function lineEndsIn(text: string): number {
  let n = 0;
  for (let k = text.indexOf("\n"); k !== -1; k = text.indexOf("\n", k + 1)) n++;
  for (let k = text.indexOf("\r"); k !== -1; k = text.indexOf("\r", k + 1)) if (text[k + 1] !== "\n") n++;
  return n;
}

/** Where a record the tokenizer could not read lies, for its message. */
export interface UnreadRecord {
  /** Physical line where the record starts. */
  line: number;
  /** The record as written, without its line end. */
  raw: string;
  /** Physical line the next record starts on; the tokenizer's records have it. */
  nextLine?: number;
}

/** The row error message for a record with a tokenizer error (its row error code is the error itself). */
export function recordErrorMessage(error: RecordError, record: UnreadRecord): string {
  if (error === "stray_quote") return "a quote inside an unquoted field, or a quote never closed";
  // The record runs from its first line to the line end after the opening quote (the
  // tokenizer's resynchronisation), so `raw` tells its last line.
  const last = record.line + lineEndsIn(record.raw);
  const resume =
    record.nextLine === undefined
      ? ""
      : record.nextLine > last
        ? `, and reading resumes on line ${record.nextLine}`
        : ", the end of the file";
  const limit = byteSize(MAX_QUOTED_FIELD_BYTES);
  return (
    `a quoted field longer than ${limit} (the limit), or never closed: no closing quote within its first ${limit}; ` +
    `the record is skipped from line ${record.line} to the end of line ${last}${resume}`
  );
}
