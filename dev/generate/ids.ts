/**
 * Identifiers. Shopee order numbers (the invoice) are `YYMMDD` + 8 upper-case
 * alphanumerics. The 8 characters are a keyed permutation of the invoice's index,
 * so they look random, are unique across the whole data set without a lookup
 * table, and can be rebuilt from (index, day) when the outcome manifest is written
 * — the generator never holds a million invoice strings.
 */
import { yymmdd } from "./calendar.js";
import { hash32, type Rng } from "./rng.js";

const SPACE = 36 ** 8; // 2,821,109,907,456 < 2^42
const HALF_BITS = 21;
const HALF = 2 ** HALF_BITS;
const HALF_MASK = HALF - 1;

export class InvoiceCodes {
  private readonly keys: number[];

  constructor(seed: string) {
    this.keys = [0, 1, 2, 3].map((round) => hash32(`${seed}\u0000invoice-key-${round}`));
  }

  /** A 4-round Feistel network on 42 bits. */
  private feistel(x: number): number {
    let left = Math.floor(x / HALF);
    let right = x % HALF;
    for (const key of this.keys) {
      let f = Math.imul(right ^ key, 0x9e3779b1);
      f ^= f >>> 15;
      f = Math.imul(f, 0x85ebca77);
      f ^= f >>> 13;
      const next = (left ^ f) & HALF_MASK;
      left = right;
      right = next;
    }
    return left * HALF + right;
  }

  /** The 8-character suffix of invoice `index`: cycle-walking keeps the permutation inside 36^8. */
  suffix(index: number): string {
    let x = this.feistel(index);
    while (x >= SPACE) x = this.feistel(x);
    return x.toString(36).toUpperCase().padStart(8, "0");
  }

  invoice(index: number, day: number): string {
    return `${yymmdd(day)}${this.suffix(index)}`;
  }
}

/** Jakmall order codes (digits, rising with gaps) and transaction codes. */
export class SupplierCodes {
  private nextOrder = 0;
  private nextTransaction = 0;

  constructor(private readonly rng: Rng) {
    this.nextOrder = 310_000_000 + rng.int(5_000_000);
    this.nextTransaction = 7_100_000_000 + rng.int(50_000_000);
  }

  order(): string {
    this.nextOrder += 1 + this.rng.int(9);
    return String(this.nextOrder);
  }

  transaction(): string {
    this.nextTransaction += 1 + this.rng.int(30);
    return String(this.nextTransaction);
  }
}
