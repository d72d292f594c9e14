/**
 * The byte-level rules of the one tokenizer (see tokenizer.ts for the rules in words):
 * finds one record at a time in one contiguous buffer, without decoding anything.
 */
import type { Buffer } from "node:buffer";
import type { RecordError } from "./types.js";

/**
 * A quoted field whose content (between its quotes, as written: `""` counts two) is
 * longer than this is refused as `field_too_long`: a quote is only known to be unclosed
 * at the end of the input, and waiting that long would hold the rest of the file in
 * memory.
 */
export const MAX_QUOTED_FIELD_BYTES = 64 * 1024;

export const QUOTE = 0x22;
export const CR = 0x0d;
export const LF = 0x0a;

/**
 * Finds one record at a time in one contiguous buffer. Kept per buffer because it
 * caches where the next quote and line ends are (native `indexOf` runs at memchr
 * speed; a JS loop over every byte would not).
 */
export class Scanner {
  // Results of the last successful parse(). A record's field bounds (start, end pairs,
  // buffer indexes) are `store[boundsAt .. boundsAt + boundsLength)`: the records of one
  // buffer share one typed array instead of each holding an array of its own, which a
  // worker keeping a chunk's records would otherwise pay for in garbage collection.
  end = 0;
  contentEnd = 0;
  lineEnds = 0;
  error: RecordError | undefined = undefined;
  store: Int32Array;
  boundsAt = 0;
  boundsLength = 0;
  escaped: number[] | null = null;
  /** Some fields were stepped over without being located (only past maxField). */
  partial = false;

  private top = 0;
  private readonly len: number;
  private qFrom = 0;
  private qAt = -2;
  private crFrom = 0;
  private crAt = -2;
  private lfFrom = 0;
  private lfAt = -2;

  constructor(
    private readonly buf: Buffer,
    private readonly d: number,
    capacity = Math.min(buf.length >> 2, 1 << 16),
  ) {
    this.len = buf.length;
    this.store = new Int32Array(Math.max(64, capacity));
  }

  private pushBounds(start: number, end: number): void {
    if (this.top + 2 > this.store.length) {
      // Earlier records keep the old array; only the current record's bounds move.
      const grown = new Int32Array(this.store.length * 2);
      grown.set(this.store.subarray(this.boundsAt, this.top));
      this.top -= this.boundsAt;
      this.boundsAt = 0;
      this.store = grown;
    }
    this.store[this.top++] = start;
    this.store[this.top++] = end;
  }

  // Each cache holds "the first X at or after `from` is `at`" and answers any position
  // between the two; a resync can step backwards, so positions before `from` recompute.
  private nextQuote(p: number): number {
    if (this.qAt === -2 || p < this.qFrom || (this.qAt !== -1 && p > this.qAt)) {
      this.qFrom = p;
      this.qAt = this.buf.indexOf(QUOTE, p);
    }
    return this.qAt;
  }

  private nextLineEnd(p: number): number {
    if (this.crAt === -2 || p < this.crFrom || (this.crAt !== -1 && p > this.crAt)) {
      this.crFrom = p;
      this.crAt = this.buf.indexOf(CR, p);
    }
    if (this.lfAt === -2 || p < this.lfFrom || (this.lfAt !== -1 && p > this.lfAt)) {
      this.lfFrom = p;
      this.lfAt = this.buf.indexOf(LF, p);
    }
    const cr = this.crAt;
    const lf = this.lfAt;
    if (cr === -1) return lf;
    if (lf === -1) return cr;
    return cr < lf ? cr : lf;
  }

  /** Line ends inside a quoted field's content [from, to). */
  private countLineEnds(from: number, to: number): number {
    const first = this.nextLineEnd(from);
    if (first === -1 || first >= to) return 0;
    const buf = this.buf;
    let n = 0;
    for (let k = first; k < to; k++) {
      const b = buf[k];
      if (b === LF) n++;
      else if (b === CR && buf[k + 1] !== LF) n++;
    }
    return n;
  }

  /**
   * Parses the record starting at `at` (< buffer length). Fields up to `maxField` get
   * their bounds; later ones are stepped over (the planner needs a few columns only).
   * Returns false when the record cannot be decided without more input.
   */
  parse(at: number, eof: boolean, maxField: number): boolean {
    const buf = this.buf;
    const len = this.len;
    const d = this.d;
    this.boundsAt = this.top;
    let escaped: number[] | null = null;
    let partial = false;
    let lineEnds = 0;
    let field = 0;
    let i = at;
    this.error = undefined;
    for (;;) {
      if (i >= len) {
        // A delimiter was the last byte: an empty last field, unless more input follows.
        if (!eof) return this.more();
        if (field <= maxField) this.pushBounds(len, len);
        return this.done(escaped, partial, lineEnds, len, len);
      }
      if (buf[i] === QUOTE) {
        const q = i;
        const limit = q + 1 + MAX_QUOTED_FIELD_BYTES + 1; // the closing quote must come before it
        let j = q + 1;
        let hadEscape = false;
        let close = -1;
        let failure: RecordError = "stray_quote";
        for (;;) {
          const c = this.nextQuote(j);
          if (c === -1 || c >= limit) {
            if (c === -1 && limit > len) {
              if (!eof) return this.more();
              // The input ended inside the field: never closed.
            } else failure = "field_too_long"; // the whole window is read, no closing quote in it
            break;
          }
          if (c + 1 >= len) {
            if (!eof) return this.more();
            close = c; // a quote right at the end of input closes the field
            break;
          }
          const next = buf[c + 1];
          if (next === QUOTE) {
            hadEscape = true;
            j = c + 2;
            continue;
          }
          if (next === d || next === CR || next === LF) close = c;
          break; // a lone quote followed by anything else: not closed properly
        }
        if (close === -1) {
          if (field <= maxField) this.pushBounds(q, -1);
          return this.resync(escaped, partial, lineEnds, q, eof, failure);
        }
        lineEnds += this.countLineEnds(q + 1, close);
        if (field <= maxField) {
          this.pushBounds(q + 1, close);
          if (hadEscape) (escaped ??= []).push(field);
        } else partial = true;
        const after = close + 1;
        if (after >= len) return this.done(escaped, partial, lineEnds, len, len);
        if (buf[after] === d) {
          i = after + 1;
          field++;
          continue;
        }
        return this.terminate(escaped, partial, lineEnds, after, eof);
      }
      // An unquoted field: up to the next quote or line end there is nothing but data
      // and delimiters.
      const q = this.nextQuote(i);
      const le = this.nextLineEnd(i);
      let seg = le === -1 ? len : le;
      if (q !== -1 && q < seg) seg = q;
      if (field <= maxField) {
        let j = i;
        while (j < seg && buf[j] !== d) j++;
        if (j < seg) {
          this.pushBounds(i, j);
          field++;
          i = j + 1;
          continue;
        }
        if (seg === len) {
          if (!eof) return this.more();
          this.pushBounds(i, len);
          return this.done(escaped, partial, lineEnds, len, len);
        }
        if (buf[seg] === QUOTE) {
          this.pushBounds(i, -1);
          return this.resync(escaped, partial, lineEnds, seg, eof, "stray_quote");
        }
        this.pushBounds(i, seg);
        return this.terminate(escaped, partial, lineEnds, seg, eof);
      }
      partial = true;
      if (seg === len) {
        if (!eof) return this.more();
        return this.done(escaped, partial, lineEnds, len, len);
      }
      if (buf[seg] === QUOTE) {
        // The segment held only unquoted data, so the quote opens a field exactly when
        // a delimiter precedes it.
        if (buf[seg - 1] === d) {
          i = seg;
          continue;
        }
        return this.resync(escaped, partial, lineEnds, seg, eof, "stray_quote");
      }
      return this.terminate(escaped, partial, lineEnds, seg, eof);
    }
  }

  /** Undecided: forget the bounds written for this record. */
  private more(): false {
    this.top = this.boundsAt;
    return false;
  }

  /** The record ends at the line end at `e` (CR, LF or CRLF). */
  private terminate(
    escaped: number[] | null,
    partial: boolean,
    lineEnds: number,
    e: number,
    eof: boolean,
  ): boolean {
    let end = e + 1;
    if (this.buf[e] === CR) {
      if (end >= this.len) {
        if (!eof) return this.more(); // CR LF may straddle two input chunks
      } else if (this.buf[end] === LF) end++;
    }
    return this.done(escaped, partial, lineEnds + 1, e, end);
  }

  /**
   * A stray quote, or a quoted field that could not be closed, at `from`: the record
   * ends at the first line end after it (the quote state can no longer be trusted).
   */
  private resync(
    escaped: number[] | null,
    partial: boolean,
    lineEnds: number,
    from: number,
    eof: boolean,
    error: RecordError,
  ): boolean {
    this.error = error;
    const le = this.nextLineEnd(from + 1);
    if (le === -1) {
      if (!eof) return this.more();
      return this.done(escaped, partial, lineEnds, this.len, this.len);
    }
    return this.terminate(escaped, partial, lineEnds, le, eof);
  }

  private done(
    escaped: number[] | null,
    partial: boolean,
    lineEnds: number,
    contentEnd: number,
    end: number,
  ): true {
    // The field where a stray quote or an over-long quoted field struck runs, as written,
    // to the end of the record (its end was marked -1): best effort, only `raw` is meant
    // for the error report.
    if (this.top > this.boundsAt && this.store[this.top - 1] === -1) this.store[this.top - 1] = contentEnd;
    this.boundsLength = this.top - this.boundsAt;
    this.escaped = escaped;
    this.partial = partial;
    this.lineEnds = lineEnds;
    this.contentEnd = contentEnd;
    this.end = end;
    return true;
  }
}
