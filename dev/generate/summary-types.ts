/** Shapes of summary.json and bad-rows.jsonl (documented in dev/generate.ts). */

export interface FileEntry {
  /** Path relative to the output directory. */
  name: string;
  /** Import files, or the generator's own manifests (bad-rows.jsonl, outcomes.csv). */
  file_type: "purchases" | "settlements" | "manifest";
  /** Data records (a record spanning two physical lines is one row). */
  rows: number;
  /** Physical lines, header and skippable lines included. */
  lines: number;
  bytes: number;
  sha256: string;
  /** Purchases: the file's quirks. */
  style?: Record<string, string | boolean>;
  /** Settlements: whose report and which payout period. */
  store?: string;
  username?: string;
  period?: { from: string; to: string };
}

export const BAD_CODES = [
  "bad_qty",
  "bad_date",
  "bad_amount",
  "missing_field",
  "field_count",
  "stray_quote",
  "conflicting_order",
  "total_mismatch",
  "repeated_order",
] as const;
export type BadCode = (typeof BAD_CODES)[number];

/** Warnings keep their row; every other code rejects it. */
export const WARNING_CODES: ReadonlySet<BadCode> = new Set(["total_mismatch", "repeated_order"]);

/** One line of bad-rows.jsonl. */
export interface BadRowEntry {
  /** The purchase file's name (as uploaded: no directory). */
  file: string;
  /** 1-based physical line where the record starts (the header is line 1). */
  line: number;
  code: BadCode;
  /** The header text of the offending field; absent for errors of the whole record (field_count, stray_quote). */
  column?: string;
  /** Which flavour of the defect, for readers that want to check it. */
  variant: string;
}
