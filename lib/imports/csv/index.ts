/**
 * The CSV layer of imports: one tokenizer (tokenizer.ts), file sniffing (sniff.ts),
 * header mapping (headers.ts), record classification (records.ts), the planner's
 * cutting (plan.ts) and range parsing (read.ts).
 */
export {
  asBuffer,
  type ByteSource,
  chunksOf,
  CsvRecord,
  type Delimiter,
  DELIMITERS,
  MAX_QUOTED_FIELD_BYTES,
  type RecordError,
  RecordReader,
  type RecordReaderOptions,
  readRecords,
  readRecordsSync,
} from "./tokenizer.js";
export { recordErrorMessage, type UnreadRecord } from "./messages.js";
export { checkHead, type FileLayout, HEAD_BYTES, MAX_HEAD_BYTES, MAX_PREAMBLE_RECORDS, type SniffResult, sniffFile } from "./sniff.js";
export {
  type ColumnField,
  type HeaderMapping,
  headerProblem,
  isSettlementHeaderRow,
  mapHeader,
  normalizeHeaderName,
  PURCHASE_COLUMNS,
  type PurchaseColumnField,
  readPreamble,
  SETTLEMENT_COLUMNS,
  type SettlementColumnField,
  type SettlementPreamble,
} from "./headers.js";
export { classifyRecord, orderKey, type RecordClass, type SkipReason, skipReason, stripTextGuard } from "./records.js";
export { type ChunkLayout, type FilePlan, KEYLESS_RUN_LIMIT, type PlanOptions, type FileRange, planFileChunks } from "./plan.js";
export { type ChunkRange, type ChunkRecords, forEachChunkRow, readChunk } from "./read.js";
export type { FileError, FileErrorCode, FileType } from "./types.js";
