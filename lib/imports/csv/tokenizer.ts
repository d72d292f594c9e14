/**
 * The one tokenizer: the planner and the chunk worker
 * both read records through it, so they agree on where every record starts, byte for
 * byte and line for line.
 *
 * It works on bytes, not characters: `"`, CR, LF and the delimiters never occur inside
 * a UTF-8 multi-byte sequence, so record and field boundaries are found without
 * decoding, and offsets are file offsets (what an HTTP Range asks for). Fields are
 * decoded only when asked for.
 *
 * The rules, exactly:
 * - A field that starts with `"` is quoted. It ends at a `"` followed by the delimiter,
 *   a line end or the end of input; `""` inside it is one quote; it may hold line ends.
 * - A `"` anywhere inside an unquoted field makes the record `stray_quote`; the record
 *   ends at the next line end, read without quote rules (the quote state can no longer
 *   be trusted, so reading resynchronises at the next line).
 * - A quoted field not closed before the end of input makes its record `stray_quote`,
 *   ending at the first line end after the opening quote; reading resumes on the next
 *   physical line. Our own decision (RFC 4180 does not cover it): a lone `"` inside a quoted field
 *   that is followed by anything other than `"`, the delimiter or a line end
 *   (`"12" monitor"`) is treated the same way (the field was not closed properly),
 *   instead of silently swallowing the following lines into one field.
 * - A quoted field whose content (between the quotes, as written) runs past
 *   MAX_QUOTED_FIELD_BYTES without a closing quote makes its record `field_too_long`,
 *   and resynchronises the same way. Whether the field closes later, or never, is not
 *   waited for: that could take the rest of the file, held in memory. So a long field
 *   with line ends inside leaves its later lines to be read as records of their own
 *   (most of them errors).
 * - Line ends are CRLF, LF, and a lone CR (old Mac exports; editors show it as a line
 *   break, so line numbers match what the user sees). Physical lines count each of
 *   them, inside quoted fields too.
 * - A UTF-8 BOM at file offset 0 is skipped; offsets still count it.
 *
 * Every decision depends only on the bytes of the record itself, one byte of lookahead
 * (CR LF, a quote's next byte), the 64 KiB window of a quoted field, and whether the
 * input has ended. The reader never decides while a deciding byte is still missing,
 * so the records are the same however the input is split into chunks, and a byte
 * range cut at record boundaries parses to exactly the records a whole-file pass
 * gives. The byte-level rules live in scanner.ts; this module feeds it chunks and
 * hands out records.
 */
import { Buffer } from "node:buffer";
import { CR, LF, Scanner } from "./scanner.js";
import type { RecordError } from "./types.js";

export type Delimiter = "," | ";" | "\t";
export const DELIMITERS: readonly Delimiter[] = [",", ";", "\t"];

export { MAX_QUOTED_FIELD_BYTES } from "./scanner.js";

export type { RecordError } from "./types.js";

const BOM = [0xef, 0xbb, 0xbf] as const;

export function utf8BomLength(bytes: Uint8Array): number {
  return bytes.length >= 3 && bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2] ? 3 : 0;
}

function isBomPrefix(bytes: Uint8Array): boolean {
  for (let k = 0; k < bytes.length && k < 3; k++) if (bytes[k] !== BOM[k]) return false;
  return true;
}

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * One record. Offsets are file offsets: `startByte` is its first byte, `endByte` the
 * byte after its line end, so consecutive records tile the file exactly. Fields and
 * `raw` are decoded from the bytes on first use.
 */
export class CsvRecord {
  private decoded: string[] | null = null;
  private text: string | null = null;

  constructor(
    private buf: Buffer,
    private at: number,
    private contentEnd: number,
    /** Field bounds: `store[boundsAt + 2k]`, `store[boundsAt + 2k + 1]` for field k (buffer indexes). */
    private store: Int32Array,
    private boundsAt: number,
    private boundsLength: number,
    private escaped: number[] | null,
    private partial: boolean,
    private readonly eof: boolean,
    private readonly delimiter: number,
    /** 1-based physical line where the record starts. */
    readonly line: number,
    /** The physical line the next record starts on (a quoted line end spans lines). */
    readonly nextLine: number,
    readonly startByte: number,
    /** Exclusive: the byte after the record's line end. */
    readonly endByte: number,
    readonly error: RecordError | undefined,
  ) {}

  /** The record as written, without its line end (for row errors). */
  get raw(): string {
    this.text ??= this.buf.toString("utf8", this.at, this.contentEnd);
    return this.text;
  }

  get fieldCount(): number {
    this.locateAll();
    return this.boundsLength >> 1;
  }

  /** The decoded fields (`""` unescaped). For a record with an error: best effort. */
  get fields(): string[] {
    if (this.decoded) return this.decoded;
    this.locateAll();
    const { buf, store, boundsAt, boundsLength, at } = this;
    const n = boundsLength >> 1;
    const out = new Array<string>(n);
    const raw = this.raw;
    if (raw.length === this.contentEnd - at) {
      // All ASCII: byte offsets are string offsets, so slicing beats decoding per field.
      for (let f = 0; f < n; f++) out[f] = raw.slice(store[boundsAt + 2 * f]! - at, store[boundsAt + 2 * f + 1]! - at);
    } else {
      // Map byte offsets to string offsets in one walk (a character is one UTF-16 unit,
      // two above U+FFFF) instead of decoding field by field. The bounds never decrease.
      const stop = this.contentEnd;
      const units = new Array<number>(boundsLength);
      let k = 0;
      let unit = 0;
      for (let p = at; p < stop; p++) {
        while (k < boundsLength && store[boundsAt + k] === p) units[k++] = unit;
        const byte = buf[p] as number;
        if ((byte & 0xc0) !== 0x80) unit += byte >= 0xf0 ? 2 : 1;
      }
      while (k < boundsLength) units[k++] = unit;
      if (unit === raw.length) {
        for (let f = 0; f < n; f++) out[f] = raw.slice(units[2 * f], units[2 * f + 1]);
      } else {
        // Bytes that are not UTF-8 decode to U+FFFD: offsets no longer line up.
        for (let f = 0; f < n; f++) out[f] = buf.toString("utf8", store[boundsAt + 2 * f], store[boundsAt + 2 * f + 1]);
      }
    }
    if (this.escaped) for (const f of this.escaped) out[f] = (out[f] as string).replaceAll('""', '"');
    this.decoded = out;
    return out;
  }

  /** One field, decoded alone; undefined past the last field. */
  field(index: number): string | undefined {
    if (this.decoded) return this.decoded[index];
    if (2 * index + 1 >= this.boundsLength) {
      if (!this.partial) return undefined;
      this.locateAll();
      if (2 * index + 1 >= this.boundsLength) return undefined;
    }
    const at = this.boundsAt + 2 * index;
    const value = this.buf.toString("utf8", this.store[at], this.store[at + 1]);
    return this.escaped?.includes(index) ? value.replaceAll('""', '"') : value;
  }

  /**
   * A record read in the planner's scan mode located only its first fields; this
   * re-reads it in full from the same bytes, with the same end-of-input state, so the
   * result is what a full read gives.
   */
  private locateAll(): void {
    if (!this.partial) return;
    const scanner = new Scanner(this.buf, this.delimiter, 64);
    scanner.parse(this.at, this.eof, Number.MAX_SAFE_INTEGER);
    this.store = scanner.store;
    this.boundsAt = scanner.boundsAt;
    this.boundsLength = scanner.boundsLength;
    this.escaped = scanner.escaped;
    this.partial = false;
  }
}

export interface RecordReaderOptions {
  delimiter: Delimiter;
  /** File offset of the first byte pushed (0: the file's start, where a BOM is skipped). */
  startByte?: number;
  /** Physical line of the first record. */
  firstLine?: number;
  /**
   * Locate only fields 0..maxField while reading (the planner's scan: a few columns at
   * near read speed); the others are located on demand. Default: all.
   */
  maxField?: number;
}

/**
 * Incremental record reader: push() byte chunks of any size as they arrive, then end().
 * Records are handed to `onRecord` in file order. Memory: the unfinished record only.
 * Pushed chunks must not be modified afterwards (records decode lazily from them).
 */
export class RecordReader {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Retry a record that needed more input only once the buffered bytes have doubled. */
  private retryAt = 0;
  private bomDecided: boolean;
  private base: number;
  private line: number;
  private ended = false;
  private readonly d: number;
  private readonly maxField: number;

  constructor(
    options: RecordReaderOptions,
    private readonly onRecord: (record: CsvRecord) => void,
  ) {
    this.d = options.delimiter.charCodeAt(0);
    this.base = options.startByte ?? 0;
    this.line = options.firstLine ?? 1;
    this.bomDecided = this.base !== 0;
    this.maxField = options.maxField ?? Number.MAX_SAFE_INTEGER;
  }

  /** File offset where the next record starts (everything before it was handed out). */
  get nextByte(): number {
    return this.base;
  }

  /** Physical line where the next record starts. */
  get nextLine(): number {
    return this.line;
  }

  push(chunk: Uint8Array): void {
    if (this.ended) throw new Error("RecordReader: push() after end()");
    if (chunk.length === 0) return;
    this.pending.push(asBuffer(chunk));
    this.pendingLength += chunk.length;
    // Retrying from the record's start on every small chunk would be quadratic on a
    // long record; waiting for the buffer to double keeps the work linear.
    if (this.pendingLength >= this.retryAt) this.drain(false);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.drain(true);
  }

  /** Physical line of file offset `offset`, which must lie in the bytes pushed and not yet handed out. */
  lineAt(offset: number): number {
    const buf = this.pendingBuffer();
    const stop = Math.min(buf.length, offset - this.base);
    let line = this.line;
    for (let k = 0; k < stop; k++) {
      const b = buf[k];
      if (b === LF || (b === CR && (k + 1 >= buf.length || buf[k + 1] !== LF))) line++;
    }
    return line;
  }

  private pendingBuffer(): Buffer {
    if (this.pending.length !== 1) this.pending = [Buffer.concat(this.pending, this.pendingLength)];
    return this.pending[0] as Buffer;
  }

  private drain(eof: boolean): void {
    if (this.pendingLength === 0) return;
    const buf = this.pendingBuffer();
    let pos = 0;
    if (!this.bomDecided) {
      if (buf.length < 3 && !eof && isBomPrefix(buf)) {
        this.retryAt = buf.length + 1;
        return;
      }
      this.bomDecided = true;
      pos = utf8BomLength(buf);
    }
    const scanner = new Scanner(buf, this.d);
    const { maxField, d } = this;
    while (pos < buf.length) {
      if (!scanner.parse(pos, eof, maxField)) break;
      const startByte = this.base + pos;
      const line = this.line;
      this.line += scanner.lineEnds;
      const record = new CsvRecord(
        buf,
        pos,
        scanner.contentEnd,
        scanner.store,
        scanner.boundsAt,
        scanner.boundsLength,
        scanner.escaped,
        scanner.partial,
        eof,
        d,
        line,
        this.line,
        startByte,
        this.base + scanner.end,
        scanner.error,
      );
      pos = scanner.end;
      this.onRecord(record);
    }
    this.base += pos;
    const rest = buf.subarray(pos);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingLength = rest.length;
    this.retryAt = rest.length * 2;
  }
}

/** Bytes from any source the CSV layer reads: a Node stream, a web stream, chunks, or one buffer. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array;

export async function* chunksOf(source: ByteSource): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  for await (const chunk of source) yield chunk;
}

/** Every record of `source` (a whole file, or a range with its startByte/firstLine). */
export async function readRecords(source: ByteSource, options: RecordReaderOptions): Promise<CsvRecord[]> {
  const records: CsvRecord[] = [];
  const reader = new RecordReader(options, (record) => records.push(record));
  for await (const chunk of chunksOf(source)) reader.push(chunk);
  reader.end();
  return records;
}

/** Synchronous form for bytes already in memory (a file's head, tests). */
export function readRecordsSync(bytes: Uint8Array, options: RecordReaderOptions): CsvRecord[] {
  const records: CsvRecord[] = [];
  const reader = new RecordReader(options, (record) => records.push(record));
  reader.push(bytes);
  reader.end();
  return records;
}
