/**
 * Test support for the CSV layer: a reference tokenizer (the rules of lib/imports/csv/tokenizer.ts
 * written the plainest way, byte by byte over the whole input, no caches, no
 * incremental state) to check the fast one against, a seeded generator of dirty
 * purchase files, and helpers to feed bytes in awkward pieces.
 */
import { MAX_QUOTED_FIELD_BYTES, type RecordError } from "../../../lib/imports/csv/index.js";
import { PURCHASE_COLUMNS } from "../../../lib/imports/csv/headers.js";

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;

export interface PlainRecord {
  line: number;
  startByte: number;
  endByte: number;
  error: RecordError | undefined;
  fields: string[];
  raw: string;
}

const decoder = new TextDecoder();
const text = (bytes: Uint8Array, from: number, to: number) => decoder.decode(bytes.subarray(from, to));

/** Every record of a whole input, by the rules, the slow and obvious way. */
export function referenceRecords(bytes: Uint8Array, delimiter: string, startByte = 0, firstLine = 1): PlainRecord[] {
  const d = delimiter.charCodeAt(0);
  const n = bytes.length;
  const isLineEnd = (k: number) => bytes[k] === CR || bytes[k] === LF;
  const lineEndLength = (k: number) => (bytes[k] === CR && bytes[k + 1] === LF ? 2 : 1);
  const firstLineEndAfter = (k: number) => {
    for (let m = k + 1; m < n; m++) if (isLineEnd(m)) return m;
    return -1;
  };
  const out: PlainRecord[] = [];
  let pos = startByte === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let line = firstLine;
  while (pos < n) {
    const fields: string[] = [];
    let error: RecordError | undefined;
    let lines = 0;
    let contentEnd = n;
    let end = n;
    let i = pos;
    const resync = (fieldStart: number, from: number, why: RecordError) => {
      error = why;
      const k = firstLineEndAfter(from);
      if (k === -1) {
        contentEnd = end = n;
      } else {
        contentEnd = k;
        end = k + lineEndLength(k);
        lines++;
      }
      fields.push(text(bytes, fieldStart, contentEnd));
    };
    for (;;) {
      if (i >= n) {
        fields.push("");
        break;
      }
      if (bytes[i] === QUOTE) {
        const q = i;
        let j = q + 1;
        let close = -1;
        const value: number[] = [];
        // The content may be MAX_QUOTED_FIELD_BYTES long; its closing quote comes after it.
        const window = q + 1 + MAX_QUOTED_FIELD_BYTES + 1;
        while (j < n && j < window) {
          if (bytes[j] !== QUOTE) {
            value.push(bytes[j] as number);
            j++;
            continue;
          }
          if (j + 1 >= n) {
            close = j;
            break;
          }
          const next = bytes[j + 1];
          if (next === QUOTE) {
            value.push(QUOTE);
            j += 2;
            continue;
          }
          if (next === d || next === CR || next === LF) close = j;
          break;
        }
        if (close === -1) {
          // Run out of the window (rather than out of input, or stopped at a lone quote): too long.
          resync(q, q, j >= window ? "field_too_long" : "stray_quote");
          break;
        }
        for (let k = q + 1; k < close; k++) {
          if (bytes[k] === LF || (bytes[k] === CR && bytes[k + 1] !== LF)) lines++;
        }
        fields.push(decoder.decode(Uint8Array.from(value)));
        const after = close + 1;
        if (after >= n) break;
        if (bytes[after] === d) {
          i = after + 1;
          continue;
        }
        contentEnd = after;
        end = after + lineEndLength(after);
        lines++;
        break;
      }
      let j = i;
      while (j < n && bytes[j] !== d && !isLineEnd(j) && bytes[j] !== QUOTE) j++;
      if (j < n && bytes[j] === QUOTE) {
        resync(i, j, "stray_quote");
        break;
      }
      fields.push(text(bytes, i, j));
      if (j >= n) break;
      if (bytes[j] === d) {
        i = j + 1;
        continue;
      }
      contentEnd = j;
      end = j + lineEndLength(j);
      lines++;
      break;
    }
    out.push({
      line,
      startByte: startByte + pos,
      endByte: startByte + end,
      error,
      fields,
      raw: text(bytes, pos, contentEnd),
    });
    line += lines;
    pos = end;
  }
  return out;
}

export function plain(record: PlainRecord): PlainRecord {
  return {
    line: record.line,
    startByte: record.startByte,
    endByte: record.endByte,
    error: record.error,
    fields: [...record.fields],
    raw: record.raw,
  };
}

/** A small seeded PRNG (mulberry32): failures reproduce from the seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits bytes into pieces of random sizes (some of one byte), as a network stream might. */
export function* pieces(bytes: Uint8Array, random: () => number, maxPiece = 64): Generator<Uint8Array> {
  let at = 0;
  while (at < bytes.length) {
    const size = random() < 0.3 ? 1 : 1 + Math.floor(random() * maxPiece);
    yield bytes.subarray(at, Math.min(bytes.length, at + size));
    at += size;
  }
}

/** The export's 27 headers, from the importer's one list (lib/imports/csv/headers.ts). */
export const PURCHASE_HEADER: string[] = PURCHASE_COLUMNS.map((column) => column.header);

/** Writes one CSV field properly: quoted when it must be. */
export function csvField(value: string, delimiter: string): string {
  return /["\r\n]/.test(value) || value.includes(delimiter) || value.startsWith('"') ? `"${value.replaceAll('"', '""')}"` : value;
}

/** One clean purchase line, as Jakmall writes it. */
export function purchaseLine(values: Partial<Record<string, string>>, delimiter: string): string {
  const defaults: Record<string, string> = {
    No: "1",
    "Waktu Pesanan Terbuat": "03 March 2025, 14:05:09",
    "Status Pesanan Terakhir": "Pesanan selesai",
    "Kode Pesanan": "1000001",
    "Kode Transaksi": "2000001",
    SKU: "SKU-1",
    "Nama Produk": "Kabel Data",
    "Harga Produk": "10000",
    Qty: "1",
    "Total Harga Produk": "10000",
    "Biaya Lainnya": "0",
    "Biaya Mitra Jakmall": "2500",
    "Total Transaksi": "12500",
    "Harga Produk Channel": "15000",
    "Total Harga Produk Channel": "15000",
    "Potensi Keuntungan": "5000",
    "Dibuat Oleh": "Admin",
    "Jenis Channel": "Shopee",
    "Nama Toko": "MR eStore Shopee",
    "Kode Invoice Channel": "'2503038XK2M4QA",
    "Gudang Pengiriman": "Jakarta",
    "Jenis Ekspedisi": "J&T",
    Cashless: "Ya",
    "Nomor Resi": "JP123",
    "Waktu Pengiriman": "",
    Provinsi: "DKI Jakarta",
    Kota: "Jakarta Barat",
  };
  return PURCHASE_HEADER.map((name) => csvField(values[name] ?? defaults[name] ?? "", delimiter)).join(delimiter);
}

export interface DirtyFile {
  bytes: Uint8Array;
  delimiter: string;
}

const WORDS = ["Kabel", "Casing HP", "Lampu LED", "Tas", "Kopi Gayo", "Sendok", "Kaos"];
const ODD = ["é", "ñ", "ü", "—", "中文", "😀", "Ærø", "ı"];

/**
 * A random dirty purchase file: BOM or not, any delimiter, LF / CRLF / lone CR line
 * ends, multi-byte text, quoted delimiters, quotes and line ends, stray and unclosed
 * quotes, blank, delimiter-only, totals and repeated-header lines, orders of 1–6 lines
 * (now and then an order repeated later), with or without a final line end.
 * `longFields`: the share of product names of about MAX_QUOTED_FIELD_BYTES, quoted, a
 * few bytes either side of it (without it, the file is what the seed always gave).
 */
export function dirtyPurchaseFile(random: () => number, options: { orders?: number; longFields?: number } = {}): DirtyFile {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const delimiter = pick([",", ",", ";", "\t"]);
  const lineEnd = () => (random() < 0.05 ? "\r" : random() < 0.5 ? "\r\n" : "\n");
  const longName = () => {
    // Quoted, as it holds the delimiter (and no quote: written as is); some hold a line end.
    const lineEndInside = random() < 0.3 ? pick(["\n", "\r\n", "\r"]) : "";
    const length = MAX_QUOTED_FIELD_BYTES + pick([-2, -1, 0, 1, 2, 300]);
    const head = `Deskripsi${delimiter}${lineEndInside}`;
    return head + "x".repeat(length - head.length);
  };
  const productName = () => {
    if (options.longFields && random() < options.longFields) return longName();
    const parts = [pick(WORDS)];
    if (random() < 0.3) parts.push(pick(ODD));
    if (random() < 0.15) parts.push(delimiter);
    if (random() < 0.1) parts.push('12" layar');
    if (random() < 0.08) parts.push(pick(["\n", "\r\n", "\r"]) + "baris dua");
    if (random() < 0.03) parts.push("'");
    return parts.join(" ");
  };
  const lines: string[] = [];
  const header = PURCHASE_HEADER.map((name) => csvField(name, delimiter)).join(delimiter);
  if (random() < 0.05) lines.push("");
  lines.push(header);
  const orders = options.orders ?? 1 + Math.floor(random() * 25);
  const codes: string[] = [];
  let row = 0;
  for (let o = 0; o < orders; o++) {
    const code = codes.length > 0 && random() < 0.06 ? pick(codes) : String(100000 + Math.floor(random() * 900000));
    codes.push(code);
    const count = random() < 0.6 ? 1 : 1 + Math.floor(random() * 6);
    for (let k = 0; k < count; k++) {
      row++;
      let line = purchaseLine(
        {
          No: String(row),
          "Kode Pesanan": random() < 0.1 ? `'${code}` : code,
          SKU: `SKU-${Math.floor(random() * 50)}${random() < 0.1 ? pick(ODD) : ""}`,
          "Nama Produk": productName(),
          "Nama Toko": random() < 0.1 ? "Toko Ümlaut, Cabang 2" : "MR eStore Shopee",
        },
        delimiter,
      );
      const dirt = random();
      if (dirt < 0.03) line = line.replace("Kabel", 'Ka"bel'); // may be inside a quoted field: then harmless
      else if (dirt < 0.05) line = line.replace(`${delimiter}SKU-`, `${delimiter}SK"U-`);
      else if (dirt < 0.065) line = line.replace(`${delimiter}Admin${delimiter}`, `${delimiter}"Admin unclosed${delimiter}`);
      else if (dirt < 0.075) line = line.replace(`${delimiter}Admin${delimiter}`, `${delimiter}"Admin" x${delimiter}`);
      else if (dirt < 0.08) line = line.split(delimiter).slice(0, 20).join(delimiter); // short record
      lines.push(line);
    }
    const extra = random();
    if (extra < 0.04) lines.push("");
    else if (extra < 0.07) lines.push(delimiter.repeat(PURCHASE_HEADER.length - 1));
    else if (extra < 0.09) lines.push(header);
    else if (extra < 0.1) lines.push(["Total", "", "", "", "", "", "", "99999"].join(delimiter));
    else if (extra < 0.11) lines.push(`  ${delimiter} ${delimiter}`);
  }
  let textOut = "";
  for (const line of lines) textOut += line + lineEnd();
  if (random() < 0.3) textOut = textOut.replace(/(\r\n|\r|\n)$/, "");
  if (random() < 0.3) textOut = `\uFEFF${textOut}`;
  return { bytes: new TextEncoder().encode(textOut), delimiter };
}
