/**
 * What a record is, once the header is known: a data row, or a line to skip (a
 * blank line, a row of only delimiters, a totals line, a repeated header). The
 * planner and the chunk worker classify with these same functions, so the rows the
 * planner counts are the rows the worker reads.
 */
import { type HeaderMapping, normalizeHeaderName } from "./headers.js";
import type { CsvRecord } from "./tokenizer.js";
import type { FileType } from "./types.js";

export type SkipReason = "blank" | "header";

/**
 * Per file type: the fields that, all empty, make a record skippable, and the field that
 * keys an order (the planner never cuts between two records with the same key).
 * Purchases: the order code, SKU and order date (all empty: skipped; some: missing_field).
 * Settlements (our own rule): the order number and
 * order date, which every settled order has and the blank and totals lines lack.
 */
const RULES = {
  purchases: { emptyMeansSkip: ["order_code", "sku", "ordered_at"], key: "order_code" },
  settlements: { emptyMeansSkip: ["order_sn", "ordered_on"], key: "order_sn" },
} as const satisfies Record<FileType, { emptyMeansSkip: readonly string[]; key: string }>;

/** The columns a classification reads, for the planner's scan (it locates fields 0..max only). */
export function classifyingColumns(mapping: HeaderMapping): number[] {
  const index = mapping.index as Partial<Record<string, number>>;
  const rules = RULES[mapping.fileType];
  return [...rules.emptyMeansSkip, rules.key].flatMap((field) => (index[field] === undefined ? [] : [index[field]]));
}

interface Classifier {
  /** Positions of the fields that, all empty, skip a record, with the header's name there, normalized. */
  skipFields: { position: number | undefined; name: string }[];
  keyPosition: number | undefined;
  /** The whole header, normalized, trailing empty columns dropped. */
  header: string[];
}

const classifiers = new WeakMap<HeaderMapping, Classifier>();

function classifierOf(mapping: HeaderMapping): Classifier {
  let classifier = classifiers.get(mapping);
  if (!classifier) {
    const index = mapping.index as Partial<Record<string, number>>;
    const rules = RULES[mapping.fileType];
    classifier = {
      skipFields: rules.emptyMeansSkip.map((field) => {
        const position = index[field];
        return { position, name: position === undefined ? "" : normalizeHeaderName(mapping.header[position] ?? "") };
      }),
      keyPosition: index[rules.key],
      header: withoutTrailingEmpty(mapping.header.map(normalizeHeaderName)),
    };
    classifiers.set(mapping, classifier);
  }
  return classifier;
}

function withoutTrailingEmpty(values: string[]): string[] {
  let n = values.length;
  while (n > 0 && values[n - 1] === "") n--;
  return n === values.length ? values : values.slice(0, n);
}

/** normalizeHeaderName(text) === normalized, rejecting most data values by their first letter or digit. */
function sameName(text: string, normalized: string): boolean {
  for (let k = 0; k < text.length && normalized !== ""; k++) {
    let c = text.charCodeAt(k);
    if (c >= 0x80) break; // NFKD may turn it into a letter: compare in full
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a)) {
      if (c !== normalized.charCodeAt(0)) return false;
      break;
    }
  }
  return normalizeHeaderName(text) === normalized;
}

export interface RecordClass {
  /** Null for a data row. */
  skip: SkipReason | null;
  /** The order the row belongs to (purchases: Kode Pesanan; settlements: No. Pesanan); null without one. */
  key: string | null;
}

const ERROR_ROW: RecordClass = { skip: null, key: null };

/**
 * What a record is. A record the tokenizer could not read cleanly (`stray_quote`,
 * `field_too_long`) is always a row, with no key: it must be reported, not dropped,
 * and its fields cannot be trusted. A repeated header is compared like header names
 * (case, spaces, punctuation and trailing empty columns aside): two exports pasted
 * together, one of them re-saved in Excel.
 */
export function classifyRecord(record: CsvRecord, mapping: HeaderMapping): RecordClass {
  if (record.error) return ERROR_ROW;
  const classifier = classifierOf(mapping);
  let allEmpty = true;
  let likeHeader = true;
  let keyText: string | null = null;
  for (const { position, name } of classifier.skipFields) {
    const text = position === undefined ? "" : (record.field(position) ?? "").trim();
    if (text !== "") allEmpty = false;
    if (likeHeader && (position === undefined || !sameName(text, name))) likeHeader = false;
    if (position === classifier.keyPosition) keyText = text;
  }
  if (allEmpty) return { skip: "blank", key: null };
  if (likeHeader) {
    // Only a record whose classifying columns read like the header is compared in full.
    const fields = withoutTrailingEmpty(record.fields.map(normalizeHeaderName));
    const { header } = classifier;
    if (fields.length === header.length && fields.every((value, k) => value === header[k])) return { skip: "header", key: null };
  }
  if (classifier.keyPosition === undefined) return { skip: null, key: null };
  const key = stripTextGuard(keyText ?? record.field(classifier.keyPosition) ?? "");
  return { skip: null, key: key === "" ? null : key };
}

/** Null for a data row; else why the record is skipped. */
export function skipReason(record: CsvRecord, mapping: HeaderMapping): SkipReason | null {
  return classifyRecord(record, mapping).skip;
}

/** A code as written, without spreadsheet decoration: spaces and a leading `'` (the text guard). */
export function stripTextGuard(value: string): string {
  const trimmed = value.trim();
  return trimmed.startsWith("'") ? trimmed.slice(1).trim() : trimmed;
}

/** The order a data row belongs to, or null. */
export function orderKey(record: CsvRecord, mapping: HeaderMapping): string | null {
  return classifyRecord(record, mapping).key;
}
