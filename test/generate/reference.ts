/**
 * An independent reading of the generator's output by the import and reconcile
 * rules, for the tests: the purchase export's tokenizer and row rules (collecting
 * every defect of a record, so a bad row with two defects shows up), order blocks
 * and replacement, the settlement report's layout, and the reconcile outcome rules.
 * It shares no code with dev/generate on purpose: it checks the files, not the
 * generator's bookkeeping.
 */
import { PURCHASE_COLUMNS } from "../../lib/imports/csv/headers.js";

/** The purchase export's 27 headers, in order (the importer's list: this reader is independent of the generator, not of the importer's header table). */
export const HEADERS: string[] = PURCHASE_COLUMNS.map((column) => column.header);
const C = Object.fromEntries(HEADERS.map((h, i) => [h, i])) as Record<string, number>;
const col = (name: string) => C[name] as number;

export interface RawRecord {
  /** Physical line where the record starts. */
  line: number;
  fields: string[];
  /** A quote inside an unquoted field, or a quote that never closed. */
  stray: "inline" | "unclosed" | null;
}

const QUOTE_LIMIT = 64 * 1024;

/** The import's tokenizer: RFC 4180 with the stray-quote rules; `\r\n` and `\n` end lines. */
export function tokenize(text: string, delimiter: string): RawRecord[] {
  const records: RawRecord[] = [];
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (pos < n) {
    const start = line;
    const fields: string[] = [];
    let stray: RawRecord["stray"] = null;
    let recordDone = false;
    let unclosed = false;
    while (!recordDone) {
      if (text[pos] === '"') {
        let j = pos + 1;
        let value = "";
        let breaks = 0;
        let closed = false;
        while (j < n && j - pos <= QUOTE_LIMIT) {
          const c = text[j] as string;
          if (c === '"') {
            if (text[j + 1] === '"') {
              value += '"';
              j += 2;
              continue;
            }
            const next = text[j + 1];
            if (j + 1 === n || next === delimiter || next === "\n" || (next === "\r" && text[j + 2] === "\n")) {
              closed = true;
              j++;
              break;
            }
            value += c;
            j++;
            continue;
          }
          if (c === "\n") breaks++;
          value += c;
          j++;
        }
        if (!closed) {
          // Unclosed: the record ends at the line end where the quote opened.
          const end = text.indexOf("\n", pos);
          pos = end === -1 ? n : end + 1;
          line++;
          unclosed = true;
          break;
        }
        fields.push(value.replace(/\r\n/g, "\n"));
        line += breaks;
        pos = j;
      } else {
        let j = pos;
        while (j < n && text[j] !== delimiter && text[j] !== "\n" && !(text[j] === "\r" && text[j + 1] === "\n")) j++;
        const value = text.slice(pos, j);
        if (value.includes('"')) stray = "inline";
        fields.push(value);
        pos = j;
      }
      if (pos >= n) {
        recordDone = true;
      } else if (text[pos] === delimiter) {
        pos++;
        if (pos >= n) {
          fields.push("");
          recordDone = true;
        }
      } else {
        pos += text[pos] === "\r" ? 2 : 1;
        line++;
        recordDone = true;
      }
    }
    records.push({ line: start, fields, stray: unclosed ? "unclosed" : stray });
  }
  return records;
}

export function detectDelimiter(text: string): string {
  const first = text.replace(/^\uFEFF/, "").split(/\r?\n/, 1)[0] ?? "";
  const counts = [",", ";", "\t"].map((d) => [d, first.split(d).length] as const);
  counts.sort((a, b) => b[1] - a[1]);
  return (counts[0] as readonly [string, number])[0];
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
/** Strict `DD Month YYYY, HH:MM:SS`, English month, a real calendar date. */
export function parseJakmallDate(text: string): number | null {
  const m = /^(\d{2}) ([A-Za-z]+) (\d{4}), (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) return null;
  const month = MONTHS.indexOf(m[2] as string);
  const [day, year, hh, mm, ss] = [m[1], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  if (month < 0 || hh > 23 || mm > 59 || ss > 59) return null;
  const t = Date.UTC(year, month, day, hh, mm, ss);
  const d = new Date(t);
  if (d.getUTCDate() !== day || d.getUTCMonth() !== month) return null;
  return t / 1000;
}

const plain = (v: string) => /^-?\d+$/.test(v);
const MONEY_LINE = ["Harga Produk", "Total Harga Produk", "Harga Produk Channel", "Total Harga Produk Channel", "Potensi Keuntungan"];
const MONEY_ORDER = ["Biaya Lainnya", "Biaya Mitra Jakmall", "Total Transaksi"];
export const stripGuard = (v: string) => (v.startsWith("'") ? v.slice(1) : v);
export const storeKey = (name: string) => name.trim().replace(/\s+/g, " ").toLowerCase();

export interface Finding {
  file: string;
  line: number;
  code: string;
  column?: string;
}

export interface RefLine {
  line: number;
  sku: string;
  unitCost: number;
  qty: number;
  unitPrice: number;
  lineCost: number;
  linePrice: number;
  margin: number;
  money: [string, string, string];
  storeText: string;
}

export interface RefOrder {
  code: string;
  file: string;
  firstLine: number;
  orderedAt: number;
  status: string;
  store: string;
  storeText: string;
  invoice: string;
  lines: RefLine[];
}

export interface RefFile {
  name: string;
  delimiter: string;
  crlf: boolean;
  bom: boolean;
  /** Every defect found, one finding per defect (a record with two defects yields two). */
  findings: Finding[];
  /** Lines of records skipped silently. */
  skipped: number[];
  /** Final version of each order in this file (a later block replaces an earlier one). */
  orders: Map<string, RefOrder>;
  /** Every accepted order block, in file order (for per-block checks like money placement). */
  blocks: RefOrder[];
  records: RawRecord[];
}

/** Reads one purchase file by the import's rules. */
export function readPurchaseFile(name: string, text: string): RefFile {
  const delimiter = detectDelimiter(text);
  const records = tokenize(text, delimiter);
  const headerRecord = records[0];
  if (!headerRecord) throw new Error(`${name}: empty`);
  if (JSON.stringify(headerRecord.fields) !== JSON.stringify(HEADERS)) throw new Error(`${name}: unexpected header ${JSON.stringify(headerRecord.fields)}`);
  const findings: Finding[] = [];
  const skipped: number[] = [];
  const blocks: RefOrder[] = [];
  const seenBlocks = new Map<string, RefOrder>();
  let current: RefOrder | null = null;
  let previousCode: string | null = null;

  const closeBlock = () => {
    if (!current) return;
    const block = current;
    current = null;
    if (block.lines.length === 0) return;
    // Money from the first line that has it.
    const pickMoney = (i: 0 | 1 | 2) => {
      const found = block.lines.find((l) => l.money[i] !== "");
      return found ? Number(found.money[i]) : 0;
    };
    const total = pickMoney(2);
    const expected = block.lines.reduce((s, l) => s + l.lineCost, 0) + pickMoney(0) + pickMoney(1);
    if (total !== expected) findings.push({ file: name, line: block.firstLine, code: "total_mismatch", column: "Total Transaksi" });
    blocks.push(block);
    seenBlocks.set(block.code, block);
  };

  for (const record of records.slice(1)) {
    const f = record.fields;
    if (record.stray) {
      findings.push({ file: name, line: record.line, code: "stray_quote" });
      previousCode = null;
      continue;
    }
    const code = stripGuard(f[col("Kode Pesanan")] ?? "");
    const sku = f[col("SKU")] ?? "";
    const date = f[col("Waktu Pesanan Terbuat")] ?? "";
    if (JSON.stringify(f) === JSON.stringify(HEADERS) || (code === "" && sku === "" && date === "")) {
      skipped.push(record.line);
      continue;
    }
    if (f.length !== HEADERS.length) {
      findings.push({ file: name, line: record.line, code: "field_count" });
      previousCode = null;
      continue;
    }
    const defects: Finding[] = [];
    const add = (c: string, column: string) => defects.push({ file: name, line: record.line, code: c, column });
    for (const required of ["Kode Pesanan", "SKU", "Waktu Pesanan Terbuat", "Kode Invoice Channel"]) {
      if (stripGuard(f[col(required)] as string).trim() === "") add("missing_field", required);
    }
    if (!/^[1-9]\d*$/.test(f[col("Qty")] as string)) add("bad_qty", "Qty");
    for (const d of ["Waktu Pesanan Terbuat", "Waktu Pengiriman"]) {
      const v = f[col(d)] as string;
      if (v !== "" && parseJakmallDate(v) === null) add("bad_date", d);
    }
    for (const m of MONEY_LINE) if (!plain(f[col(m)] as string)) add("bad_amount", m);
    for (const m of MONEY_ORDER) {
      const v = f[col(m)] as string;
      if (v !== "" && !plain(v)) add("bad_amount", m);
    }
    if (defects.length > 0) {
      findings.push(...defects);
      previousCode = code;
      continue;
    }
    const invoice = stripGuard(f[col("Kode Invoice Channel")] as string);
    const storeText = f[col("Nama Toko")] as string;
    const qty = Number(f[col("Qty")]);
    const refLine: RefLine = {
      line: record.line,
      sku,
      unitCost: Number(f[col("Harga Produk")]),
      qty,
      unitPrice: Number(f[col("Harga Produk Channel")]),
      lineCost: Number(f[col("Total Harga Produk")]),
      linePrice: Number(f[col("Total Harga Produk Channel")]),
      margin: Number(f[col("Potensi Keuntungan")]),
      money: [f[col("Biaya Lainnya")] as string, f[col("Biaya Mitra Jakmall")] as string, f[col("Total Transaksi")] as string],
      storeText,
    };
    if (current && (current as RefOrder).code === code && previousCode === code) {
      const block = current as RefOrder;
      if (storeKey(storeText) !== storeKey(block.storeText)) {
        findings.push({ file: name, line: record.line, code: "conflicting_order", column: "Nama Toko" });
        continue;
      }
      if (invoice !== block.invoice) {
        findings.push({ file: name, line: record.line, code: "conflicting_order", column: "Kode Invoice Channel" });
        continue;
      }
      block.lines.push(refLine);
      continue;
    }
    closeBlock();
    if (seenBlocks.has(code)) findings.push({ file: name, line: record.line, code: "repeated_order", column: "Kode Pesanan" });
    current = {
      code,
      file: name,
      firstLine: record.line,
      orderedAt: parseJakmallDate(date) as number,
      status: f[col("Status Pesanan Terakhir")] as string,
      store: storeKey(storeText),
      storeText,
      invoice,
      lines: [refLine],
    };
    previousCode = code;
  }
  closeBlock();
  const orders = new Map<string, RefOrder>();
  for (const block of blocks) orders.set(block.code, block);
  return {
    name,
    delimiter,
    crlf: text.includes("\r\n"),
    bom: text.charCodeAt(0) === 0xfeff,
    findings,
    skipped,
    orders,
    blocks,
    records,
  };
}

/** A settlement report: the header is the first row holding both `No. Pesanan` and `Total Penghasilan`. */
export interface RefSettlement {
  username: string;
  headerLine: number;
  header: string[];
  totals: string[];
  rows: string[][];
  lines: string[];
}

export function readSettlement(text: string): RefSettlement {
  const records = tokenize(text, ",");
  const headerIndex = records.findIndex((r) => r.fields.includes("No. Pesanan") && r.fields.includes("Total Penghasilan"));
  if (headerIndex < 0) throw new Error("no settlement header");
  const header = (records[headerIndex] as RawRecord).fields;
  const totals = records.slice(0, headerIndex).find((r) => r.fields[0] === "total(Rp)")?.fields ?? [];
  return {
    username: records[1]?.fields[0] ?? "",
    headerLine: (records[headerIndex] as RawRecord).line,
    header,
    totals,
    rows: records.slice(headerIndex + 1).map((r) => r.fields),
    lines: text.replace(/^\uFEFF/, "").split("\r\n"),
  };
}

export type StatusClass = "completed" | "cancelled" | "returned" | "in_progress";
export function statusClass(status: string): StatusClass {
  const s = status.trim().replace(/\s+/g, " ").toLowerCase();
  if (["pesanan selesai", "selesai"].includes(s)) return "completed";
  if (["pesanan dibatalkan", "dibatalkan", "batal"].includes(s)) return "cancelled";
  if (["pesanan dikembalikan", "dikembalikan", "pengembalian"].includes(s)) return "returned";
  return "in_progress";
}

export interface RefOutcome {
  outcome: string;
  expected: number | null;
  actual: number | null;
  split: boolean;
}

/** The reconcile rules in order (the first that applies wins), tolerance 0. `purchases` are the landed orders; settlements keyed `${store}|${invoice}`. */
export function reconcile(
  purchases: Iterable<RefOrder>,
  settlements: Map<string, { harga: number; refund: number }>,
): Map<string, RefOutcome> {
  const byInvoice = new Map<string, RefOrder[]>();
  for (const order of purchases) {
    const key = `${order.store}|${order.invoice}`;
    const list = byInvoice.get(key);
    if (list) list.push(order);
    else byInvoice.set(key, [order]);
  }
  const result = new Map<string, RefOutcome>();
  const keys = new Set([...byInvoice.keys(), ...settlements.keys()]);
  for (const key of keys) {
    const orders = byInvoice.get(key) ?? [];
    const s = settlements.get(key);
    const classes = orders.map((o) => statusClass(o.status));
    const expected = orders
      .filter((o) => statusClass(o.status) !== "cancelled")
      .reduce((sum, o) => sum + o.lines.reduce((t, l) => t + l.linePrice, 0), 0);
    let outcome: string;
    if (orders.length === 0) outcome = "orphan_settlement";
    else if (classes.includes("returned") || (s && s.refund !== 0)) outcome = "returned";
    else if (classes.every((c) => c === "cancelled") && !s) outcome = "cancelled";
    else if (s && s.harga === expected) outcome = "matched";
    else if (s) outcome = "amount_mismatch";
    else if (classes.includes("completed")) outcome = "missing_settlement";
    else outcome = "in_progress";
    result.set(key, { outcome, expected: orders.length > 0 ? expected : null, actual: s ? s.harga : null, split: orders.length > 1 });
  }
  return result;
}
