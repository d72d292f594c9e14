/** Shapes shared by the CSV layer's modules. */

/** What an import file holds: a Jakmall purchase export or a Shopee income report. */
export type FileKind = "purchases" | "settlements";

/** Why a whole file is refused (domain.md §1; part of the public API). */
export type FileErrorCode = "not_csv" | "bad_encoding" | "unknown_header" | "empty_file";

export interface FileError {
  code: FileErrorCode;
  /** Says why, in words an operator can act on. */
  message: string;
  /** File offset of the offending byte, when one byte is to blame. */
  byteOffset?: number;
  /** 1-based physical line of that byte or of the offending line. */
  line?: number;
}
