/** Shapes shared by the CSV layer's modules. */

/** What an import file holds: a Jakmall purchase export or a Shopee income report. */
export type FileType = "purchases" | "settlements";

/**
 * Why a whole file is refused (part of the public API, listed in
 * docs/imports.md). `line_too_long`: the header line, or a line before it, does not
 * end within the first MAX_HEAD_BYTES of the file.
 */
export type FileErrorCode = "not_csv" | "bad_encoding" | "unknown_header" | "empty_file" | "line_too_long";

/** What each file error code means (docs/imports.md tells more; docs/api.md's catalogue lists these). */
export const FILE_ERROR_MEANINGS: Record<FileErrorCode, string> = {
  empty_file: "0 bytes, or only whitespace and a byte-order mark.",
  not_csv: "A gzip or PDF file, or binary data (a NUL byte anywhere in the file). A zip or an OLE compound file is read as a workbook (.xlsx) instead.",
  bad_encoding: "Not UTF-8: UTF-16, or a byte that is not valid UTF-8 anywhere in the file.",
  unknown_header: "The header is not one dropflow knows (a purchase export lacking required columns; a settlement report without `No. Pesanan` and `Total Penghasilan` among its first 100 lines).",
  line_too_long: "The header line, or a line before it, does not end within the file's first 1 MiB (MAX_HEAD_BYTES).",
};

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
