/**
 * Range parsing: a chunk worker reads only its chunk's byte range and parses it alone,
 * with the same tokenizer and the same classification as the planner, starting at the
 * chunk's first line. A range cut at record boundaries (as the planner cuts) gives
 * exactly the records a whole-file pass gives there: fields, lines, offsets, errors.
 */
import { type HeaderMapping, mapHeader } from "./headers.js";
import type { ChunkLayout, FileRange } from "./plan.js";
import { classifyRecord, type SkipReason } from "./records.js";
import { type ByteSource, chunksOf, type CsvRecord, RecordReader } from "./tokenizer.js";

export interface ChunkRecords {
  /** The layout's header mapped again: `header` and `index` are what the row validators take. */
  columns: HeaderMapping;
  /** The data rows, in file order (skipped lines left out). */
  records: CsvRecord[];
  /** Lines skipped (blank, delimiters only, totals, a repeated header). */
  skipped: { line: number; reason: SkipReason }[];
}

export type ChunkRange = Pick<FileRange, "startByte" | "endByte" | "firstLine"> & { layout: ChunkLayout };

/**
 * Parses one chunk and hands each data row to `onRow` as soon as it is read, so a
 * worker holds one record at a time rather than the chunk's thousands (each record
 * caches its decoded fields). `bytes` are the range's bytes (an HTTP Range body, a
 * stream, a buffer); bytes past the range are ignored, and a short read is an error
 * (it would silently cut the last record).
 */
export async function forEachChunkRow(
  bytes: ByteSource,
  chunk: ChunkRange,
  onRow: (record: CsvRecord) => void,
  /** The layout's header mapped, when the caller has it already. */
  columns: HeaderMapping = mapHeader(chunk.layout.header, chunk.layout.fileType),
): Promise<Omit<ChunkRecords, "records">> {
  const skipped: ChunkRecords["skipped"] = [];
  const reader = new RecordReader(
    { delimiter: chunk.layout.delimiter, startByte: chunk.startByte, firstLine: chunk.firstLine },
    (record) => {
      const { skip } = classifyRecord(record, columns);
      if (skip) skipped.push({ line: record.line, reason: skip });
      else onRow(record);
    },
  );
  const length = chunk.endByte - chunk.startByte;
  let read = 0;
  for await (const part of chunksOf(bytes)) {
    const take = Math.min(part.length, length - read);
    if (take > 0) reader.push(take === part.length ? part : part.subarray(0, take));
    read += take;
    if (read >= length) break;
  }
  if (read !== length) {
    throw new Error(`chunk ${chunk.startByte}-${chunk.endByte}: read ${read} of ${length} bytes (the object changed or the read was cut short)`);
  }
  reader.end();
  return { columns, skipped };
}

/** Parses one chunk into its records (tests and tools; the worker streams with forEachChunkRow). */
export async function readChunk(bytes: ByteSource, chunk: ChunkRange): Promise<ChunkRecords> {
  const records: CsvRecord[] = [];
  const { columns, skipped } = await forEachChunkRow(bytes, chunk, (record) => records.push(record));
  return { columns, records, skipped };
}
