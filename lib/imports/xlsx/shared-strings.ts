/**
 * The workbook's shared strings: the one table held in memory while a sheet is read.
 * Kept as UTF-8 bytes in fixed-size slabs with an offset per string, not as millions
 * of JS strings: a 100 MB export's 2.5 M strings are 83 MB this way (measured), and
 * slabs never copy the table to grow it. A table past `maxBytes` fails the workbook
 * with a clear message rather than exhausting the function's memory.
 */
import { WorkbookError } from "./errors.js";
import { parsePart } from "./xml.js";
import type { WorkbookZip } from "./zip.js";

const SLAB_BYTES = 8 * 1024 * 1024;
const STRINGS_PER_PAGE = 65_536;

export class SharedStrings {
  private readonly slabs: Buffer[] = [];
  private used = 0;
  /**
   * Per string: slab index, start, end (three Uint32 each), in fixed pages: growing
   * one array by doubling would hold the old and the new copy at once (tens of MB
   * for millions of strings).
   */
  private readonly pages: Uint32Array[] = [];
  private count = 0;
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get size(): number {
    return this.count;
  }

  get byteLength(): number {
    return this.bytes;
  }

  add(text: string): void {
    const length = Buffer.byteLength(text);
    this.bytes += length;
    if (this.bytes > this.maxBytes) {
      throw new WorkbookError(
        "shared_strings_too_large",
        `the workbook's shared strings pass ${Math.round(this.maxBytes / 1048576)} MB (DROPFLOW_XLSX_MAX_SHARED_STRINGS_MB); save the sheet as CSV UTF-8 or split the workbook`,
      );
    }
    const current = this.slabs.at(-1);
    if (!current || this.used + length > current.length) {
      // A string longer than a slab gets a slab of its own size.
      this.slabs.push(Buffer.allocUnsafe(Math.max(SLAB_BYTES, length)));
      this.used = 0;
    }
    const slab = this.slabs.length - 1;
    const start = this.used;
    this.used += (this.slabs[slab] as Buffer).write(text, start);
    const offset = 3 * (this.count % STRINGS_PER_PAGE);
    if (offset === 0) this.pages.push(new Uint32Array(3 * STRINGS_PER_PAGE));
    const page = this.pages.at(-1) as Uint32Array;
    page[offset] = slab;
    page[offset + 1] = start;
    page[offset + 2] = this.used;
    this.count += 1;
  }

  /** The string at `i`, or undefined for an index the table does not have. */
  at(i: number): string | undefined {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) return undefined;
    const page = this.pages[Math.floor(i / STRINGS_PER_PAGE)] as Uint32Array;
    const offset = 3 * (i % STRINGS_PER_PAGE);
    const slab = this.slabs[page[offset] as number] as Buffer;
    return slab.toString("utf8", page[offset + 1], page[offset + 2]);
  }
}

/** Reads `xl/sharedStrings.xml` (when the workbook has one): each `<si>` is its `<t>` texts joined (rich text runs too). */
export async function readSharedStrings(zip: WorkbookZip, part: string | null, maxBytes: number): Promise<SharedStrings> {
  const table = new SharedStrings(maxBytes);
  if (!part || !zip.has(part)) return table;
  await parsePart(zip, part, (parser) => {
    let text = "";
    let inText = false;
    // Phonetic runs (<rPh>) are reading aids, not the cell's text.
    let inPhonetic = false;
    parser.on("opentag", (tag) => {
      if (tag.name === "si") text = "";
      else if (tag.name === "rPh") inPhonetic = true;
      else if (tag.name === "t" && !inPhonetic) inText = true;
    });
    parser.on("text", (chunk) => {
      if (inText) text += chunk;
    });
    parser.on("closetag", (tag) => {
      if (tag.name === "t") inText = false;
      else if (tag.name === "rPh") inPhonetic = false;
      else if (tag.name === "si") table.add(text);
    });
  });
  return table;
}
