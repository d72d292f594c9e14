/**
 * The planner's cutting: read a file once, as a stream, in flat memory, and cut it
 * into byte ranges of about `targetRows` data rows, at record boundaries, and only
 * where the order changes, so an order's lines are always in one chunk. Each chunk
 * carries what a worker needs to parse it alone (read.ts): its range, the physical
 * line of its first record, and the layout (file type, delimiter, header as written).
 *
 * The chunks tile the data region exactly: the first starts right after the header,
 * each ends where the next starts, the last ends at the end of the file. Skipped
 * lines (blank, delimiters only, totals, a repeated header) travel inside the chunks
 * but are not counted as rows.
 */
import { Buffer } from "node:buffer";
import { badEncodingMessage, Utf8StreamCheck } from "./encoding.js";
import type { HeaderMapping, SettlementPreamble } from "./headers.js";
import { classifyingColumns, classifyRecord } from "./records.js";
import { type FileLayout, HEAD_BYTES, MAX_HEAD_BYTES, type SniffResult, sniffFile } from "./sniff.js";
import { asBuffer, type ByteSource, chunksOf, type CsvRecord, type Delimiter, RecordReader } from "./tokenizer.js";
import type { FileError, FileType } from "./types.js";

/** What a chunk needs to be parsed alone; small enough to travel in every queue message. */
export interface ChunkLayout {
  fileType: FileType;
  delimiter: Delimiter;
  /** The header as written: the worker maps it again (headers.ts) and names columns in row errors with it. */
  header: string[];
}

export interface FileRange {
  /** File offset of the chunk's first record. */
  startByte: number;
  /** Exclusive: the next chunk's startByte, or the file's size. */
  endByte: number;
  /** Physical line of the chunk's first record. */
  firstLine: number;
  /** Data rows in the range (skipped lines not counted). */
  rows: number;
  layout: ChunkLayout;
  /**
   * Purchases: order codes of this chunk that an earlier chunk of the file already
   * held (two exports pasted together). The worker warns `repeated_order` on them;
   * it sees only its own range, so the planner is the one that can tell.
   */
  repeatedKeys?: string[];
}

export interface FilePlan {
  fileType: FileType;
  /** Null when the file failed before its header was known. */
  delimiter: Delimiter | null;
  header: HeaderMapping | null;
  headerLine: number | null;
  /** Settlements: username and period from the preamble. */
  preamble: SettlementPreamble | null;
  chunks: FileRange[];
  totalRows: number;
  /** Blank, delimiter-only, totals and repeated-header lines after the header. */
  skippedRecords: number;
  /** Bytes read (the whole file, unless a file error stopped the read early). */
  totalBytes: number;
  /** Set when the whole file is refused; `chunks` is then empty. */
  fileError?: FileError;
}

export interface PlanOptions {
  fileType: FileType;
  /** About this many data rows per chunk; a chunk ends only where the order changes, so it may hold a few more. */
  targetRows: number;
  signal?: AbortSignal;
}

/**
 * Rows without an order key (unreadable, or no order code) in a row beyond which a cut
 * is allowed among them: far more than any order's lines (1–6), so real orders are
 * never split, while a file broken throughout is still cut.
 */
export const KEYLESS_RUN_LIMIT = 1000;

export async function planFileChunks(source: ByteSource, options: PlanOptions): Promise<FilePlan> {
  const { fileType, targetRows, signal } = options;
  if (!Number.isInteger(targetRows) || targetRows < 1) throw new RangeError(`targetRows must be a positive integer, got ${targetRows}`);
  const iterator = chunksOf(source)[Symbol.asyncIterator]();
  try {
    // 1. The head: enough bytes to sniff the file and find its header.
    const headParts: Buffer[] = [];
    let headLength = 0;
    let complete = false;
    let want = HEAD_BYTES;
    let head: Buffer;
    let sniffed: SniffResult;
    for (;;) {
      while (!complete && headLength < want) {
        signal?.throwIfAborted();
        const next = await iterator.next();
        if (next.done) complete = true;
        else if (next.value.length > 0) {
          headParts.push(asBuffer(next.value));
          headLength += next.value.length;
        }
      }
      head = Buffer.concat(headParts, headLength);
      sniffed = sniffFile(head, { fileType, complete });
      if (sniffed.status !== "need_more") break;
      want = Math.min(MAX_HEAD_BYTES, Math.max(want, headLength) * 2);
    }
    const failed = (fileError: FileError, layout: FileLayout | null, totalBytes: number): FilePlan => ({
      fileType,
      delimiter: layout?.delimiter ?? null,
      header: layout?.header ?? null,
      headerLine: layout?.headerLine ?? null,
      preamble: layout?.preamble ?? null,
      chunks: [],
      totalRows: 0,
      skippedRecords: 0,
      totalBytes,
      fileError,
    });
    if (sniffed.status === "error") return failed(sniffed.error, null, headLength);
    const { layout } = sniffed;

    // 2. The rest, streamed through the scan and the byte checks.
    const mapping = layout.header;
    const chunkLayout: ChunkLayout = { fileType, delimiter: layout.delimiter, header: mapping.header };
    const chunks: FileRange[] = [];
    let chunkStart = layout.dataStart;
    let chunkLine = layout.dataLine;
    let chunkRows = 0;
    let totalRows = 0;
    let skippedRecords = 0;
    let lastKey: string | null = null;
    let keylessRun = 0;
    // Order codes of finished chunks, and this chunk's: O(orders in the file).
    const trackRepeats = fileType === "purchases";
    const earlierKeys = new Set<string>();
    let chunkKeys = new Set<string>();
    let repeated = new Set<string>();
    const closeChunk = (endByte: number) => {
      chunks.push({
        startByte: chunkStart,
        endByte,
        firstLine: chunkLine,
        rows: chunkRows,
        layout: chunkLayout,
        ...(trackRepeats ? { repeatedKeys: [...repeated] } : {}),
      });
      for (const key of chunkKeys) earlierKeys.add(key);
      chunkKeys = new Set();
      repeated = new Set();
    };
    const keylessRunLimit = Math.max(targetRows, KEYLESS_RUN_LIMIT);
    const onRecord = (record: CsvRecord) => {
      const { skip, key } = classifyRecord(record, mapping);
      if (skip) {
        skippedRecords++;
        return;
      }
      // Cut only before a row that starts another order: rows without a key (errors)
      // stay with the order before them, unless there are so many in a row that they
      // are no order's lines (a file broken throughout must still spread over chunks).
      const cutHere = key === null ? keylessRun >= keylessRunLimit : key !== lastKey;
      keylessRun = key === null ? keylessRun + 1 : 0;
      if (cutHere && chunkRows >= targetRows) {
        closeChunk(record.startByte);
        chunkStart = record.startByte;
        chunkLine = record.line;
        chunkRows = 0;
      }
      chunkRows++;
      totalRows++;
      if (key !== null) {
        lastKey = key;
        if (trackRepeats) {
          if (earlierKeys.has(key)) repeated.add(key);
          chunkKeys.add(key);
        }
      }
    };
    const reader = new RecordReader(
      {
        delimiter: layout.delimiter,
        startByte: layout.dataStart,
        firstLine: layout.dataLine,
        maxField: Math.max(0, ...classifyingColumns(mapping)),
      },
      onRecord,
    );
    const utf8 = new Utf8StreamCheck();
    let offset = 0;
    // Bytes the head check could not see (past the head) are checked here; a NUL or a
    // broken character anywhere refuses the whole file: a file saved in another
    // encoding is wrong on every accented line, not just one.
    const refuse = (code: "not_csv" | "bad_encoding", at: number, byte: number | undefined): FilePlan => {
      const line = at >= reader.nextByte ? reader.lineAt(at) : undefined;
      const message =
        code === "not_csv"
          ? `This is binary data, not a CSV file: it holds a NUL byte at byte ${at}${line === undefined ? "" : ` (line ${line})`}.`
          : badEncodingMessage(byte, at, line);
      return failed({ code, message, byteOffset: at, ...(line === undefined ? {} : { line }) }, layout, offset);
    };
    const feed = (chunk: Buffer, from: number): FilePlan | null => {
      const nulAt = chunk.indexOf(0, from);
      const nul = nulAt === -1 ? Infinity : offset + nulAt;
      const badAt = utf8.push(chunk);
      const bad = badAt === -1 ? Infinity : badAt;
      if (nul === Infinity && bad === Infinity) {
        reader.push(from === 0 ? chunk : chunk.subarray(from));
        offset += chunk.length;
        return null;
      }
      // Read up to the offending byte first, so the reader can tell its line.
      const stop = Math.min(nul, bad);
      if (stop > offset + from) reader.push(chunk.subarray(from, stop - offset));
      return nul <= bad ? refuse("not_csv", nul, 0) : refuse("bad_encoding", bad, utf8.badByte);
    };
    const headProblem = feed(head, layout.dataStart);
    if (headProblem) return headProblem;
    for (;;) {
      signal?.throwIfAborted();
      const next = await iterator.next();
      if (next.done) break;
      if (next.value.length === 0) continue;
      const problem = feed(asBuffer(next.value), 0);
      if (problem) return problem;
    }
    const truncated = utf8.end();
    if (truncated !== -1) return refuse("bad_encoding", truncated, undefined);
    reader.end();
    if (totalRows > 0) closeChunk(offset);
    return {
      fileType,
      delimiter: layout.delimiter,
      header: mapping,
      headerLine: layout.headerLine,
      preamble: layout.preamble,
      chunks,
      totalRows,
      skippedRecords,
      totalBytes: offset,
    };
  } finally {
    // Stops the underlying stream when we return early (a file error) or throw.
    await iterator.return?.(undefined);
  }
}
