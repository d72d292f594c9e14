/** Shapes shared by the CSV layer's modules. */

/** What an import file holds: a Jakmall purchase export or a Shopee income report. */
export type FileType = "purchases" | "settlements";

/**
 * Why a whole file is refused (part of the public API, listed in
 * docs/imports.md). `line_too_long`: the header line, or a line before it, does not
 * end within the first MAX_HEAD_BYTES of the file.
 */
export type FileErrorCode = "not_csv" | "bad_encoding" | "unknown_header" | "empty_file" | "line_too_long";

/**
 * Why the tokenizer could not read a record cleanly (row error codes, part of the
 * public API). `stray_quote`: a quote inside an unquoted field, a quoted field that is
 * not closed properly, or one the input ends inside. `field_too_long`: a quoted field
 * whose content runs past MAX_QUOTED_FIELD_BYTES with no closing quote.
 */
export type RecordError = "stray_quote" | "field_too_long";

export interface FileError {
  code: FileErrorCode;
  /** Says why, in words an operator can act on. */
  message: string;
  /** File offset of the offending byte, when one byte is to blame. */
  byteOffset?: number;
  /** 1-based physical line of that byte or of the offending line. */
  line?: number;
}
