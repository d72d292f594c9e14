/**
 * A company's data: users and items, generated from the seed, and the changes made to
 * them while a client pages through (inserts between existing codes, deletes, renames,
 * UpdateDate bumps). Everything is drawn from seeded streams, and dates are relative to
 * a reference day derived from the seed, never to today: the same seed is the same data.
 */
import { type Prng, createPrng, deriveSeed } from "../prng.js";
import type { SapItem, SapMutationOp, SapSimCompanySeed, SapYesNo } from "./types.js";

const DAY_MS = 86_400_000;

/** The seed's "today" (UTC midnight), somewhere in 2025: fixed, so dates do not drift with the calendar. */
export function referenceDay(seed: number): number {
  return Date.UTC(2025, 0, 1) + (deriveSeed(seed, "sap-reference-day") % 365) * DAY_MS;
}

export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

const NOUNS: ReadonlyArray<readonly [string, string]> = [
  ["Cablu USB-C", "USB-C cable"],
  ["Husă telefon", "Phone case"],
  ["Lampă LED", "LED lamp"],
  ["Suport laptop", "Laptop stand"],
  ["Căști wireless", "Wireless headphones"],
  ["Încărcător auto", "Car charger"],
  ["Mouse optic", "Optical mouse"],
  ["Tastatură mecanică", "Mechanical keyboard"],
  ["Boxă portabilă", "Portable speaker"],
  ["Ceas inteligent", "Smart watch"],
  ["Rucsac urban", "Urban backpack"],
  ["Termos inox", "Steel thermos"],
  ["Cană ceramică", "Ceramic mug"],
  ["Set șurubelnițe", "Screwdriver set"],
  ["Bec smart", "Smart bulb"],
  ["Prelungitor", "Extension cord"],
  ["Baterie externă", "Power bank"],
  ["Covoraș yoga", "Yoga mat"],
  ["Sticlă apă", "Water bottle"],
  ["Organizator birou", "Desk organiser"],
];
const BRANDS = ["Voltix", "Nordic", "Kid's Corner", "Artisan", "ProLine", "Zenith", "O'Neill", "Urbano", "Delta", "Maro"];
const VARIANTS = ["1m", "2m", "500 ml", "750 ml", "XL", "M", "S", "Pro", "Mini", "Max", "v2", "20W", "65W", "10000 mAh"];
const COLOURS = ["negru", "alb", "roșu", "albastru", "verde", "gri", "roz", "galben"];
const GROUPS = [100, 101, 102, 103, 105, 110];
/** Most codes are A…; a few other series sort after them. All are zero-padded to 7 characters. */
const SERIES: ReadonlyArray<{ prefix: string; weight: number }> = [
  { prefix: "A", weight: 0.86 },
  { prefix: "B", weight: 0.1 },
  { prefix: "SRV", weight: 0.04 },
];
const CODE_WIDTH = 7;

function yesNo(rng: Prng, yesProbability: number): SapYesNo {
  return rng.next() < yesProbability ? "tYES" : "tNO";
}

function itemName(rng: Prng): { name: string; foreign: string } {
  const [noun, english] = rng.pick(NOUNS);
  const brand = rng.pick(BRANDS);
  const variant = rng.pick(VARIANTS);
  const colour = rng.pick(COLOURS);
  return { name: `${noun} ${brand} ${variant} ${colour}`, foreign: `${english} ${brand} ${variant}` };
}

/** EAN-13 with a Romanian (594) prefix and a correct check digit. */
function barcode(rng: Prng): string {
  let digits = "594";
  for (let i = 0; i < 9; i++) digits += String(rng.int(0, 9));
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(digits[i]) * (i % 2 === 0 ? 1 : 3);
  return digits + String((10 - (sum % 10)) % 10);
}

function code(prefix: string, serial: number): string {
  return prefix + String(serial).padStart(CODE_WIDTH - prefix.length, "0");
}

/** One item; `updated` is its UpdateDate/UpdateTime instant. */
function makeItem(rng: Prng, itemCode: string, updated: number, created: number): SapItem {
  const { name, foreign } = itemName(rng);
  const price = Math.round((0.5 + rng.next() * 2499.5) * 10_000) / 10_000;
  return {
    ItemCode: itemCode,
    ItemName: name,
    ForeignName: rng.next() < 0.4 ? foreign : null,
    ItemsGroupCode: rng.pick(GROUPS),
    BarCode: rng.next() < 0.8 ? barcode(rng) : null,
    QuantityOnStock: rng.next() < 0.15 ? 0 : rng.int(1, 500),
    Valid: yesNo(rng, 0.95),
    Frozen: yesNo(rng, 0.04),
    SalesItem: yesNo(rng, 0.97),
    InventoryItem: yesNo(rng, 0.92),
    CreateDate: isoDay(created),
    UpdateDate: isoDay(updated),
    UpdateTime: isoTime(updated),
    ItemPrices: [{ PriceList: 1, Price: price, Currency: "RON" }],
  };
}

/** Binary search: the index of the first code >= `code`. */
function lowerBound(sorted: readonly string[], target: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface User {
  password: string;
  locked: boolean;
}

/** When a change happens, as the simulator's clock sees it. */
export interface ChangeTime {
  /** The instant (reference day at noon, plus the clock offset). */
  at: number;
}

export class Company {
  readonly companyDb: string;
  readonly users = new Map<string, User>();
  /** Insertion order (creation order): what defaultOrder "insertion" serves. */
  private readonly byCode = new Map<string, SapItem>();
  private readonly sorted: string[];
  /** inCodeOrder()'s answer until the next insert or delete: every page request reads it. */
  private codeOrder: SapItem[] | null = null;

  constructor(seed: number, company: SapSimCompanySeed) {
    this.companyDb = company.companyDb;
    for (const user of company.users) this.users.set(user.name, { password: user.password, locked: user.locked ?? false });
    const rng = createPrng(deriveSeed(seed, `sap-items:${company.companyDb}`));
    const today = referenceDay(seed);
    const serials = new Map(SERIES.map((series) => [series.prefix, 0]));
    const generated: SapItem[] = [];
    const created: number[] = [];
    for (let i = 0; i < company.items; i++) {
      const roll = rng.next();
      let acc = 0;
      const series = SERIES.find((s) => (acc += s.weight) > roll) ?? (SERIES[0] as { prefix: string });
      const previous = serials.get(series.prefix) as number;
      // The first A code is A000001; after that, random gaps leave room for inserts.
      const serial = previous === 0 ? 1 : previous + (rng.next() < 0.6 ? 1 : rng.int(2, 4));
      serials.set(series.prefix, serial);
      const updateDay = today - rng.int(0, 364) * DAY_MS;
      // On the reference day itself, before its noon ("now" at a zero clock offset).
      const updateMs = updateDay + rng.int(0, updateDay === today ? 43_199 : 86_399) * 1000;
      const createMs = updateDay - rng.int(0, 900) * DAY_MS;
      generated.push(makeItem(rng, code(series.prefix, serial), updateMs, createMs));
      created.push(createMs);
    }
    const order = generated.map((_, index) => index);
    // Creation order, as rows would sit in the table; ties by code.
    order.sort((a, b) => (created[a] as number) - (created[b] as number) || ((generated[a] as SapItem).ItemCode < (generated[b] as SapItem).ItemCode ? -1 : 1));
    for (const index of order) {
      const item = generated[index] as SapItem;
      this.byCode.set(item.ItemCode, item);
    }
    this.sorted = generated.map((item) => item.ItemCode).sort();
  }

  get size(): number {
    return this.byCode.size;
  }

  get(itemCode: string): SapItem | undefined {
    return this.byCode.get(itemCode);
  }

  /** Shared, not a copy: callers that reorder must copy first. */
  inCodeOrder(): readonly SapItem[] {
    this.codeOrder ??= this.sorted.map((itemCode) => this.byCode.get(itemCode) as SapItem);
    return this.codeOrder;
  }

  inInsertionOrder(): readonly SapItem[] {
    return [...this.byCode.values()];
  }

  /**
   * Applies `count` changes of kind `op`. Inserts and deletes stay below `before` when it
   * is given (codes that sort before it), which is what shifts later `$skip` pages.
   */
  mutate(op: SapMutationOp, count: number, rng: Prng, when: ChangeTime, before?: string): void {
    for (let n = 0; n < count; n++) {
      switch (op) {
        case "insert":
          this.insert(rng, when, before);
          break;
        case "delete":
          this.remove(rng, before);
          break;
        case "rename":
        case "touch":
          this.touch(rng, when, op === "rename");
          break;
      }
    }
  }

  private insert(rng: Prng, when: ChangeTime, before: string | undefined): void {
    const limit = before === undefined ? this.sorted.length : lowerBound(this.sorted, before);
    const newCode = this.freeCodeBelow(rng, limit, before);
    if (newCode === null) return;
    const item = makeItem(rng, newCode, when.at, when.at);
    this.byCode.set(newCode, item);
    this.sorted.splice(lowerBound(this.sorted, newCode), 0, newCode);
    this.codeOrder = null;
  }

  /**
   * A code that does not exist yet and sorts among the first `limit` codes (below
   * `before` when given). Prefers a number in a gap of a series (A000004 between
   * A000003 and A000006); where there is none, a suffix (A000003-01 sorts right
   * after A000003). Null when there is no room at all (e.g. nothing below `before`).
   */
  private freeCodeBelow(rng: Prng, limit: number, before: string | undefined): string | null {
    if (limit === 0) return null;
    const fits = (candidate: string, next: string | undefined) =>
      !this.byCode.has(candidate) && (next === undefined || candidate < next) && (before === undefined || candidate < before);
    for (let attempt = 0; attempt < 12; attempt++) {
      const index = rng.int(0, limit - 1);
      const low = this.sorted[index] as string;
      const next = this.sorted[index + 1];
      const match = /^([A-Z]+)(\d+)$/.exec(low);
      if (match && low.length === CODE_WIDTH) {
        const candidate = code(match[1] as string, Number(match[2]) + 1);
        if (candidate.length === CODE_WIDTH && fits(candidate, next)) return candidate;
      }
      if (attempt < 8) continue;
      for (let suffix = 1; suffix < 100; suffix++) {
        const candidate = `${low}-${String(suffix).padStart(2, "0")}`;
        if (fits(candidate, next)) return candidate;
      }
    }
    return null;
  }

  private remove(rng: Prng, before: string | undefined): void {
    const limit = before === undefined ? this.sorted.length : lowerBound(this.sorted, before);
    if (limit === 0) return;
    const [removed] = this.sorted.splice(rng.int(0, limit - 1), 1);
    if (removed !== undefined) this.byCode.delete(removed);
    this.codeOrder = null;
  }

  private touch(rng: Prng, when: ChangeTime, rename: boolean): void {
    if (this.sorted.length === 0) return;
    const item = this.byCode.get(rng.pick(this.sorted)) as SapItem;
    if (rename) {
      let name = item.ItemName;
      for (let attempt = 0; attempt < 5 && name === item.ItemName; attempt++) name = itemName(rng).name;
      item.ItemName = name === item.ItemName ? `${name} (nou)` : name;
    }
    item.UpdateDate = isoDay(when.at);
    item.UpdateTime = isoTime(when.at);
  }
}
