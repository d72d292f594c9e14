/**
 * The COPY side of bench:import's baseline (bench/import-baseline.sql): streams each
 * purchase file into `COPY bench_staging FROM STDIN (FORMAT csv)` with pg-copy-streams,
 * after one pass over its bytes that drops what COPY cannot parse at all, because one
 * such record aborts a whole COPY:
 *   - the UTF-8 BOM;
 *   - blank lines (COPY reads one as a row of one column);
 *   - records whose field count is not the header's (27);
 *   - records with a quote that is not RFC 4180: a quote inside an unquoted field (an
 *     inch mark, `12"`), or after a closing quote. COPY would take it as the start of a
 *     quoted field and misread every record after it; the filter skips to the end of
 *     that physical line and carries on;
 *   - a quoted field still open at the end of the file.
 * Everything else (header lines, delimiter-only rows, totals lines, values that do not
 * convert) reaches COPY and is left out by the SQL. Kept records pass byte for byte.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { PURCHASE_COLUMNS } from "../lib/imports/csv/headers.js";
import { PURCHASE_FIELDS } from "../lib/imports/purchase-rows.js";

/** The Jakmall export's 27 headers, in order: the staging table's columns (one list, in lib/imports/csv/headers.ts). */
export const PURCHASE_HEADERS = PURCHASE_COLUMNS.map((column) => column.header);

/** The staging table's column names: the running number, then the export's fields in column order. */
export const STAGING_COLUMNS = ["no", ...PURCHASE_FIELDS] as const;

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/** Parser states: at a field's start, in an unquoted field, in a quoted one, just after a quote in one, skipping a bad record. */
const State = { FieldStart: 0, Unquoted: 1, Quoted: 2, QuoteInQuoted: 3, Skipping: 4 } as const;
type State = (typeof State)[keyof typeof State];

export interface FilterCounts {
  /** Records passed to COPY (header, delimiter-only and totals lines included). */
  kept: number;
  /** Records dropped: wrong field count or a quote COPY would misread. */
  dropped: number;
  blank: number;
}

/** Passes whole CSV records whose field count is `fields` and whose quoting COPY reads as RFC 4180 does. */
export class CopyableRecords extends Transform {
  readonly counts: FilterCounts = { kept: 0, dropped: 0, blank: 0 };
  private state: State = State.FieldStart;
  private fieldCount = 1;
  /** Bytes of the record in progress from earlier chunks. */
  private pending: Buffer[] = [];
  private onlyWhitespace = true;
  private first = true;

  constructor(
    private readonly delimiter: number,
    private readonly fields: number,
  ) {
    super();
  }

  override _transform(input: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let chunk = input;
    if (this.first) {
      this.first = false;
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    const out: Buffer[] = [];
    let start = 0;
    const { delimiter } = this;
    let state: State = this.state;
    let { fieldCount, onlyWhitespace } = this;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      if (c !== LF && c !== CR && c !== 0x20) onlyWhitespace = false;
      switch (state) {
        case State.Quoted:
          if (c === QUOTE) state = State.QuoteInQuoted;
          continue;
        case State.Skipping:
          if (c !== LF) continue;
          break;
        case State.QuoteInQuoted:
          if (c === QUOTE) {
            state = State.Quoted; // "" inside a quoted field
            continue;
          }
          if (c === delimiter) {
            fieldCount += 1;
            state = State.FieldStart;
            continue;
          }
          if (c === CR) {
            state = State.Unquoted;
            continue;
          }
          if (c !== LF) {
            state = State.Skipping; // text after a closing quote
            continue;
          }
          break;
        case State.FieldStart:
        case State.Unquoted:
          if (c === QUOTE) {
            state = state === State.FieldStart ? State.Quoted : State.Skipping;
            continue;
          }
          if (c === delimiter) {
            fieldCount += 1;
            state = State.FieldStart;
            continue;
          }
          if (c !== LF) {
            state = State.Unquoted;
            continue;
          }
          break;
      }
      // c is a line feed that ends a record.
      const piece = chunk.subarray(start, i + 1);
      if (state !== State.Skipping && fieldCount === this.fields) {
        for (const part of this.pending) out.push(part);
        out.push(piece);
        this.counts.kept += 1;
      } else if (onlyWhitespace && state !== State.Skipping) {
        this.counts.blank += 1;
      } else {
        this.counts.dropped += 1;
      }
      this.pending = [];
      start = i + 1;
      state = State.FieldStart;
      fieldCount = 1;
      onlyWhitespace = true;
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
    this.state = state;
    this.fieldCount = fieldCount;
    this.onlyWhitespace = onlyWhitespace;
    if (out.length > 0) this.push(Buffer.concat(out));
    done();
  }

  override _flush(done: TransformCallback): void {
    // A last record without a line ending.
    if (this.pending.length > 0) {
      const open = this.state === State.Quoted || this.state === State.Skipping;
      if (!open && this.fieldCount === this.fields) {
        this.push(Buffer.concat([...this.pending, Buffer.from("\n")]));
        this.counts.kept += 1;
      } else if (this.onlyWhitespace && !open) {
        this.counts.blank += 1;
      } else {
        this.counts.dropped += 1;
      }
    }
    done();
  }
}

/** The file's delimiter, from its header line (`,` or `;`); throws when the header is not the export's. */
export async function sniffHeader(file: string): Promise<"," | ";"> {
  const handle = await open(file, "r");
  let text: string;
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    text = buffer.subarray(0, bytesRead).toString("utf8").replace(/^\uFEFF/, "");
  } finally {
    await handle.close();
  }
  const line = text.split(/\r?\n/, 1)[0] ?? "";
  const delimiter = (line.split(";").length > line.split(",").length ? ";" : ",") as "," | ";";
  const header = line.split(delimiter).map((h) => h.trim().replace(/^"|"$/g, ""));
  if (header.join("\u0000") !== PURCHASE_HEADERS.join("\u0000")) {
    throw new Error(`${file}: the baseline needs the export's 27 headers in order, got ${JSON.stringify(header)}`);
  }
  return delimiter;
}

/** COPYs one file into bench_staging on `client`. */
export async function copyFile(client: pg.Client, file: string): Promise<FilterCounts> {
  const delimiter = await sniffHeader(file);
  const filter = new CopyableRecords(delimiter.charCodeAt(0), PURCHASE_HEADERS.length);
  const copy = client.query(
    copyFrom(
      `copy bench_staging (${STAGING_COLUMNS.join(", ")}) from stdin with (format csv, delimiter '${delimiter}')`,
    ),
  );
  await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), filter, copy);
  return filter.counts;
}
