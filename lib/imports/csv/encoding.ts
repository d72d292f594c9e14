/**
 * UTF-8 checks for files that are read as a stream. Node's `isUtf8` (simdutf) does the
 * work at memory speed; the slow byte walk below only runs once a chunk has failed,
 * to name the first bad byte.
 */
import { Buffer, isUtf8 } from "node:buffer";
import { asBuffer } from "./tokenizer.js";

/**
 * Length of the longest prefix that does not end inside a multi-byte character: the
 * rest is carried into the next chunk (a character may straddle two chunks).
 */
export function completeUtf8Prefix(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let k = n - 1; k >= 0 && k >= n - 3; k--) {
    const b = bytes[k] as number;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return k + size > n ? k : n;
  }
  return n;
}

/** Offset of the first byte that breaks UTF-8 (strict: no overlongs, surrogates or > U+10FFFF), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let i = start;
  while (i < end) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let size: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) size = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      size = 3;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      size = 4;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + size > end) return i;
    const second = bytes[i + 1] as number;
    if (second < lo || second > hi) return i;
    for (let k = 2; k < size; k++) {
      const c = bytes[i + k] as number;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += size;
  }
  return -1;
}

/** Validates a stream chunk by chunk; `push` and `end` answer the file offset of the first bad byte, or -1. */
export class Utf8StreamCheck {
  private carry: Buffer = Buffer.alloc(0);
  private offset = 0;
  /** The first bad byte once push() or end() found one (undefined: a character cut short at the end). */
  badByte: number | undefined;

  push(chunk: Uint8Array): number {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : asBuffer(chunk);
    const dataStart = this.offset - this.carry.length;
    this.offset += chunk.length;
    const cut = completeUtf8Prefix(data);
    if (!isUtf8(data.subarray(0, cut))) {
      const bad = Math.max(0, firstInvalidUtf8(data, 0, cut));
      this.badByte = data[bad];
      return dataStart + bad;
    }
    this.carry = Buffer.from(data.subarray(cut));
    return -1;
  }

  /** A character cut short by the end of the file is an error too. */
  end(): number {
    return this.carry.length > 0 ? this.offset - this.carry.length : -1;
  }
}

/** Physical line of `offset` within `bytes` (which start at line 1). */
export function lineOfOffset(bytes: Uint8Array, offset: number): number {
  let line = 1;
  const stop = Math.min(offset, bytes.length);
  for (let k = 0; k < stop; k++) {
    const b = bytes[k];
    if (b === 0x0a || (b === 0x0d && bytes[k + 1] !== 0x0a)) line++;
  }
  return line;
}

function hex(byte: number): string {
  return `0x${byte.toString(16).toUpperCase().padStart(2, "0")}`;
}

export function badEncodingMessage(byte: number | undefined, offset: number, line: number | undefined): string {
  const where = `at byte ${offset}${line === undefined ? "" : ` (line ${line})`}`;
  const what = byte === undefined ? "a character cut short by the end of the file" : `byte ${hex(byte)}`;
  return (
    `The file is not UTF-8: ${what} ${where} is not valid UTF-8. It was probably saved in a Windows code page ` +
    `(Latin-1 / Windows-1252, Excel's plain "CSV"); save it again as "CSV UTF-8 (Comma delimited)".`
  );
}
