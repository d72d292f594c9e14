/**
 * The synthetic data generator (dev/generate): determinism, the shape of real sellers'
 * exports (store weights, order clock, lines per order, prices, status mix, file
 * quirks), the bad-row manifest against an independent reading of the files by the
 * importer's row rules (reference.ts), the settlement layout against the real Shopee
 * income report (a shared fixture, see test/support/shared-fixtures.ts), and the
 * outcome manifest against the reconcile rules applied to what the files hold.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GenerateOptions } from "../../dev/generate/options.js";
import { planFileSizes } from "../../dev/generate/purchases.js";
import { Rng } from "../../dev/generate/rng.js";
import { generate, type Summary } from "../../dev/generate/run.js";
import { NEEDS_SHARED_FIXTURES, sharedFixture } from "../support/shared-fixtures.js";
import {
  HEADERS,
  parseJakmallDate,
  readPurchaseFile,
  readSettlement,
  reconcile,
  type RefFile,
  type RefOrder,
  type RefSettlement,
  statusClass,
  storeKey,
  stripGuard,
} from "./reference.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const FIXTURE = sharedFixture("shopee-income-2025-05.csv");

const tmp = mkdtempSync(path.join(os.tmpdir(), "dropflow-generate-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const options = (out: string, extra: Partial<GenerateOptions> = {}): GenerateOptions => ({
  rows: 3000,
  files: 4,
  seed: "7",
  badRate: 0.01,
  out: path.join(tmp, out),
  stores: 5,
  settlements: true,
  force: false,
  ...extra,
});

/** sha256 over every file under `dir`: relative path and content, in sorted order. */
function hashDir(dir: string): string {
  const hash = createHash("sha256");
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const full = path.join(at, name);
      if (statSync(full).isDirectory()) walk(full);
      else hash.update(`${path.relative(dir, full)}\u0000`).update(readFileSync(full));
    }
  };
  walk(dir);
  return hash.digest("hex");
}

const share = (part: number, whole: number) => part / whole;
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;

describe("determinism", () => {
  it("gives identical bytes for the same options, other bytes for another seed, and the same purchases without settlements", async () => {
    await generate(options("a"));
    await generate(options("b"));
    await generate(options("c", { seed: "8" }));
    await generate(options("d", { settlements: false }));
    expect(hashDir(path.join(tmp, "a"))).toBe(hashDir(path.join(tmp, "b")));
    expect(hashDir(path.join(tmp, "a"))).not.toBe(hashDir(path.join(tmp, "c")));
    expect(hashDir(path.join(tmp, "a", "purchases"))).toBe(hashDir(path.join(tmp, "d", "purchases")));
    expect(readdirSync(path.join(tmp, "d"))).not.toContain("settlements");
  });

  it("sizes files log-normally: many of a few thousand rows, a few of 50,000+ at a million rows", () => {
    const sizes = planFileSizes(new Rng("1", "files"), 1_000_000, 120);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(1_000_000);
    const sorted = [...sizes].sort((a, b) => a - b);
    expect(quantile(sorted, 0.5)).toBeGreaterThan(2000);
    expect(quantile(sorted, 0.5)).toBeLessThan(8000);
    const big = sizes.filter((s) => s >= 50_000).length;
    expect(big).toBeGreaterThanOrEqual(1);
    expect(big).toBeLessThanOrEqual(8);
  });
});

describe("a 20,000-row data set", () => {
  const out = path.join(tmp, "shape");
  let summary: Summary;
  let files: RefFile[];
  let texts: Map<string, string>;
  /** Landed orders after replacement across files (later file wins). */
  let landed: Map<string, RefOrder>;
  let manifest: Array<{ file: string; line: number; code: string; column?: string; variant: string }>;
  let settlementFiles: Array<{ name: string; report: RefSettlement; text: string }>;
  const canonical = new Map<string, string>();

  beforeAll(async () => {
    summary = await generate({ ...options("shape"), rows: 20_000, files: 8, seed: "shape" });
    for (const store of summary.stores) canonical.set(storeKey(store.name), store.name);
    const names = readdirSync(path.join(out, "purchases")).sort();
    texts = new Map(names.map((n) => [n, readFileSync(path.join(out, "purchases", n), "utf8")]));
    files = names.map((n) => readPurchaseFile(n, texts.get(n) as string));
    landed = new Map();
    for (const file of files) for (const [code, order] of file.orders) landed.set(code, order);
    manifest = readFileSync(path.join(out, "bad-rows.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as (typeof manifest)[number]);
    settlementFiles = readdirSync(path.join(out, "settlements"))
      .sort()
      .map((name) => {
        const text = readFileSync(path.join(out, "settlements", name), "utf8");
        return { name, text, report: readSettlement(text) };
      });
  }, 120_000);

  it("writes exactly the rows asked for, and the summary describes the files", () => {
    expect(summary.totals.rows).toBe(20_000);
    expect(files.reduce((n, f) => n + f.records.length - 1 - f.skipped.length, 0)).toBe(20_000);
    for (const entry of summary.files) {
      const bytes = readFileSync(path.join(out, entry.name));
      expect(bytes.length).toBe(entry.bytes);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(entry.sha256);
    }
    expect(summary.totals.orders).toBe(landed.size);
    const lines = [...landed.values()].flatMap((o) => o.lines);
    expect(summary.totals.landedLines).toBe(lines.length);
    expect(summary.totals.expectedMargin).toBe(lines.reduce((s, l) => s + l.margin, 0));
    expect(summary.totals.linePrice).toBe(lines.reduce((s, l) => s + l.linePrice, 0));
    const byCode = Object.values(summary.totals.badRowsByCode).reduce((a, b) => a + b, 0);
    expect(byCode).toBe(manifest.length);
    expect(summary.totals.rejectedRows + summary.totals.warningRows).toBe(manifest.length);
    expect(summary.totals.goodRows).toBe(20_000 - summary.totals.rejectedRows);
    expect(summary.totals.settlementRows).toBe(settlementFiles.reduce((n, f) => n + f.report.rows.length, 0));
    for (const store of summary.stores) {
      const orders = [...landed.values()].filter((o) => canonical.get(o.store) === store.name);
      expect(store.orders).toBe(orders.length);
      expect(store.margin).toBe(orders.flatMap((o) => o.lines).reduce((s, l) => s + l.margin, 0));
    }
  });

  it("lists every defect the importer's row rules find, exactly one code per bad row, and nothing else", () => {
    const found = files.flatMap((f) => f.findings);
    const perRow = new Map<string, string[]>();
    for (const f of found) perRow.set(`${f.file}:${f.line}`, [...(perRow.get(`${f.file}:${f.line}`) ?? []), f.code]);
    for (const [row, codes] of perRow) expect(codes, row).toHaveLength(1);
    const key = (e: { file: string; line: number; code: string }) => `${e.file}:${e.line}:${e.code}`;
    expect(found.map(key).sort()).toEqual(manifest.map(key).sort());
    // Where both name a column, they agree.
    const columns = new Map(found.filter((f) => f.column).map((f) => [key(f), f.column]));
    for (const entry of manifest) {
      if (entry.column && columns.has(key(entry))) expect(entry.column, key(entry)).toBe(columns.get(key(entry)));
    }
    // Every row error and warning code of the importer is present, and the rate is about --bad-rate.
    for (const code of ["bad_qty", "bad_date", "bad_amount", "missing_field", "field_count", "stray_quote", "conflicting_order", "total_mismatch", "repeated_order"]) {
      expect(manifest.filter((e) => e.code === code).length, code).toBeGreaterThanOrEqual(5);
    }
    expect(manifest.some((e) => e.variant === "unclosed_quote")).toBe(true);
    expect(manifest.some((e) => e.variant === "quote_in_unquoted_field")).toBe(true);
    expect(manifest.length).toBeGreaterThanOrEqual(180);
    expect(manifest.length).toBeLessThanOrEqual(220);
  });

  it("points each manifest entry at the physical line where a record with that defect starts", () => {
    for (const entry of manifest) {
      const file = files.find((f) => f.name === entry.file) as RefFile;
      const text = texts.get(entry.file) as string;
      const physical = text.replace(/^\uFEFF/, "").split("\n")[entry.line - 1] as string;
      const index = file.records.findIndex((r) => r.line === entry.line);
      expect(index, `${entry.file}:${entry.line}`).toBeGreaterThan(0);
      const record = file.records[index];
      if (!record) throw new Error("unreachable");
      const field = (name: string) => record.fields[HEADERS.indexOf(name)] as string;
      const where = `${entry.file}:${entry.line} ${entry.code} ${entry.variant}`;
      switch (entry.code) {
        case "bad_qty":
          expect(/^[1-9]\d*$/.test(field("Qty")), where).toBe(false);
          break;
        case "bad_date":
          expect(field(entry.column as string), where).not.toBe("");
          expect(parseJakmallDate(field(entry.column as string)), where).toBeNull();
          break;
        case "bad_amount":
          expect(/^-?\d+$/.test(field(entry.column as string)), where).toBe(false);
          expect(physical).toContain(field(entry.column as string));
          break;
        case "missing_field":
          expect(stripGuard(field(entry.column as string)), where).toBe("");
          break;
        case "field_count":
          expect(record.fields.length, where).not.toBe(HEADERS.length);
          break;
        case "stray_quote":
          expect(record.stray, where).toBe(entry.variant === "unclosed_quote" ? "unclosed" : "inline");
          expect(physical, where).toContain('"');
          if (entry.variant === "unclosed_quote") {
            // One quote on the line stays open, and nothing after the line could close it.
            expect(physical.split('"').length % 2, where).toBe(0);
            const after = text.replace(/^\uFEFF/, "").split("\n").slice(entry.line).join("\n");
            expect(after.includes('"'), where).toBe(false);
          }
          break;
        case "conflicting_order": {
          const code = stripGuard(field("Kode Pesanan"));
          const previous = file.records[index - 1];
          expect(stripGuard(previous?.fields[HEADERS.indexOf("Kode Pesanan")] ?? ""), where).toBe(code);
          const column = HEADERS.indexOf(entry.column as string);
          const norm = (v: string) => (entry.column === "Nama Toko" ? storeKey(v) : stripGuard(v));
          expect(norm(previous?.fields[column] ?? ""), where).not.toBe(norm(record.fields[column] as string));
          break;
        }
        case "total_mismatch": {
          const block = file.blocks.find((b) => b.firstLine === entry.line) as RefOrder;
          const money = block.lines[0]?.money as [string, string, string];
          const cost = block.lines.reduce((s, l) => s + l.lineCost, 0);
          expect(Number(money[2]), where).not.toBe(cost + Number(money[0]) + Number(money[1]));
          break;
        }
        case "repeated_order": {
          const code = stripGuard(field("Kode Pesanan"));
          const previous = file.records[index - 1];
          expect(stripGuard(previous?.fields[HEADERS.indexOf("Kode Pesanan")] ?? ""), where).not.toBe(code);
          expect(
            file.records.slice(1, index - 1).some((r) => stripGuard(r.fields[HEADERS.indexOf("Kode Pesanan")] ?? "") === code),
            where,
          ).toBe(true);
          break;
        }
        default:
          throw new Error(`unknown code ${entry.code}`);
      }
    }
  });

  it("has skippable lines of every kind, none of them in the manifest", () => {
    const lines = new Set(manifest.map((e) => `${e.file}:${e.line}`));
    const kinds = { blank: 0, delimiters: 0, header: 0, totals: 0 };
    for (const file of files) {
      for (const line of file.skipped) {
        expect(lines.has(`${file.name}:${line}`)).toBe(false);
        const record = file.records.find((r) => r.line === line);
        const fields = record?.fields ?? [];
        if (fields.length === 1 && fields[0] === "") kinds.blank++;
        else if (JSON.stringify(fields) === JSON.stringify(HEADERS)) kinds.header++;
        else if (fields.every((f) => f === "")) kinds.delimiters++;
        else if (fields[0] === "Total") kinds.totals++;
      }
    }
    expect(kinds.blank).toBeGreaterThan(0);
    expect(kinds.delimiters).toBeGreaterThan(0);
    expect(kinds.header).toBeGreaterThan(0);
    expect(kinds.totals).toBeGreaterThan(0);
    expect(kinds).toEqual({
      blank: summary.totals.skippedLines.blank,
      delimiters: summary.totals.skippedLines.delimiterOnly,
      header: summary.totals.skippedLines.repeatedHeader,
      totals: summary.totals.skippedLines.totals,
    });
  });

  it("spreads orders over the stores by their skewed weights, with a few misspelled shop names", () => {
    const orders = [...landed.values()];
    for (const store of summary.stores) {
      const count = orders.filter((o) => canonical.get(o.store) === store.name).length;
      expect(Math.abs(share(count, orders.length) - store.weight), store.name).toBeLessThan(0.02);
    }
    expect(summary.stores.map((s) => Math.round(s.weight * 100))).toEqual([55, 25, 12, 5, 3]);
    expect(orders.every((o) => canonical.has(o.store))).toBe(true);
    const lines = orders.flatMap((o) => o.lines);
    const misspelled = lines.filter((l) => l.storeText !== canonical.get(storeKey(l.storeText))).length;
    expect(share(misspelled, lines.length)).toBeGreaterThan(0.0005);
    expect(share(misspelled, lines.length)).toBeLessThan(0.005);
  });

  it("shapes lines per order and quantities", () => {
    const orders = [...landed.values()];
    const lines = (k: (n: number) => boolean) => share(orders.filter((o) => k(o.lines.length)).length, orders.length);
    expect(Math.abs(lines((n) => n === 1) - 0.88)).toBeLessThan(0.015);
    expect(Math.abs(lines((n) => n === 2) - 0.075)).toBeLessThan(0.012);
    expect(Math.abs(lines((n) => n === 3) - 0.03)).toBeLessThan(0.008);
    expect(Math.abs(lines((n) => n >= 4 && n <= 6) - 0.015)).toBeLessThan(0.006);
    expect(orders.every((o) => o.lines.length <= 6)).toBe(true);
    const all = orders.flatMap((o) => o.lines);
    const qty = (k: (n: number) => boolean) => share(all.filter((l) => k(l.qty)).length, all.length);
    expect(Math.abs(qty((n) => n === 1) - 0.8)).toBeLessThan(0.015);
    expect(Math.abs(qty((n) => n === 2) - 0.12)).toBeLessThan(0.012);
    expect(Math.abs(qty((n) => n >= 3 && n <= 10) - 0.08)).toBeLessThan(0.012);
    expect(all.every((l) => l.lineCost === l.unitCost * l.qty && l.linePrice === l.unitPrice * l.qty && l.margin === l.linePrice - l.lineCost)).toBe(true);
  });

  it("mixes final statuses about 86 / 6 / 5 / 3 %", () => {
    const orders = [...landed.values()];
    const mix = (c: string) => share(orders.filter((o) => statusClass(o.status) === c).length, orders.length);
    expect(mix("completed")).toBeGreaterThan(0.84);
    expect(mix("completed")).toBeLessThan(0.89);
    expect(Math.abs(mix("cancelled") - 0.06)).toBeLessThan(0.012);
    expect(Math.abs(mix("in_progress") - 0.05)).toBeLessThan(0.012);
    expect(mix("returned")).toBeGreaterThan(0.015);
    expect(mix("returned")).toBeLessThan(0.035);
  });

  it("prices lines log-normally (median ≈ 50,000, p10 ≈ 13,000, p90 ≈ 120,000, Rp 100 steps) at 55–85 % cost", () => {
    const all = [...landed.values()].flatMap((o) => o.lines);
    const prices = all.map((l) => l.unitPrice).sort((a, b) => a - b);
    expect(quantile(prices, 0.1)).toBeGreaterThan(11_000);
    expect(quantile(prices, 0.1)).toBeLessThan(15_500);
    expect(quantile(prices, 0.5)).toBeGreaterThan(44_000);
    expect(quantile(prices, 0.5)).toBeLessThan(56_000);
    expect(quantile(prices, 0.9)).toBeGreaterThan(105_000);
    expect(quantile(prices, 0.9)).toBeLessThan(135_000);
    expect(all.every((l) => l.unitPrice % 100 === 0 && l.unitCost < l.unitPrice)).toBe(true);
    for (const l of all.filter((x) => x.unitPrice >= 10_000)) {
      expect(l.unitCost / l.unitPrice).toBeGreaterThanOrEqual(0.545);
      expect(l.unitCost / l.unitPrice).toBeLessThanOrEqual(0.855);
    }
    const skus = new Set(all.map((l) => l.sku));
    expect(skus.size).toBeGreaterThan(1500);
    expect(skus.size).toBeLessThanOrEqual(3000);
  });

  it("puts order money on every line in 30 % of the files, on the first line only in the rest", () => {
    const everyLine = files.filter((file) => {
      const multi = file.blocks.filter((b) => b.lines.length > 1);
      const later = multi.map((b) => b.lines.slice(1).every((l) => l.money[2] === b.lines[0]?.money[2]));
      expect(multi.length).toBeGreaterThan(0);
      expect(later.every((x) => x === later[0]), file.name).toBe(true);
      if (!later[0]) expect(multi.every((b) => b.lines.slice(1).every((l) => l.money[2] === "" || l.money[2] === "0"))).toBe(true);
      return later[0];
    });
    expect(everyLine.length).toBe(Math.round(0.3 * files.length));
  });

  it("varies the file quirks: CRLF, BOM, `;`, quoted line breaks, the `'` guard", () => {
    expect(files.some((f) => f.crlf)).toBe(true);
    expect(files.some((f) => !f.crlf)).toBe(true);
    expect(files.some((f) => f.bom)).toBe(true);
    expect(files.some((f) => f.delimiter === ";")).toBe(true);
    expect(files.filter((f) => f.delimiter === ";").length).toBeLessThan(files.length / 2);
    // A CRLF file uses CRLF everywhere, quoted line breaks included; an LF file has no CR.
    for (const f of files) {
      const text = texts.get(f.name) as string;
      if (f.crlf) expect(text.replace(/\r\n/g, "").includes("\n"), f.name).toBe(false);
      else expect(text.includes("\r"), f.name).toBe(false);
    }
    const multiLine = files.flatMap((f) => f.records.filter((r) => r.fields.some((x) => x.includes("\n"))));
    expect(multiLine.length).toBeGreaterThan(0);
    const raw = [...texts.values()].join("");
    expect(raw).toMatch(/[,;]'\d{6}[0-9A-Z]{8}[,;]/);
    expect(raw).toContain('""');
  });

  it("follows the order clock: a weekly cycle, twin-date and payday spikes, 12 months", () => {
    const perDay = new Map<string, number>();
    for (const order of landed.values()) {
      const day = new Date(order.orderedAt * 1000).toISOString().slice(0, 10);
      perDay.set(day, (perDay.get(day) ?? 0) + 1);
    }
    const days = [...perDay.keys()].sort();
    expect(days[0]).toBe("2024-06-01");
    expect(days[days.length - 1]).toBe("2025-05-31");
    const counts = [...perDay.values()].sort((a, b) => a - b);
    const median = quantile(counts, 0.5);
    const at = (d: string) => perDay.get(d) ?? 0;
    const twins = ["2024-06-06", "2024-07-07", "2024-08-08", "2024-09-09", "2024-10-10", "2024-11-11", "2024-12-12", "2025-03-03", "2025-04-04", "2025-05-05"];
    const twinMean = twins.reduce((s, d) => s + at(d), 0) / twins.length;
    expect(twinMean / median).toBeGreaterThan(2.5);
    const paydays = days.filter((d) => d.endsWith("-25"));
    expect(paydays.reduce((s, d) => s + at(d), 0) / paydays.length / median).toBeGreaterThan(2.2);
    // Weekly cycle on ordinary days: Sundays sell more than Wednesdays.
    const ordinary = days.filter((d) => !twins.includes(d) && Number(d.slice(8)) > 1 && Number(d.slice(8)) < 25);
    const weekday = (w: number) => {
      const list = ordinary.filter((d) => new Date(`${d}T00:00:00Z`).getUTCDay() === w);
      return list.reduce((s, d) => s + at(d), 0) / list.length;
    };
    expect(weekday(0) / weekday(3)).toBeGreaterThan(1.05);
  });

  it("numbers invoices YYMMDD + 8 upper-case alphanumerics of the order date; order codes are digits", () => {
    for (const order of landed.values()) {
      expect(order.invoice).toMatch(/^\d{6}[0-9A-Z]{8}$/);
      const date = new Date(order.orderedAt * 1000).toISOString();
      expect(order.invoice.slice(0, 6)).toBe(`${date.slice(2, 4)}${date.slice(5, 7)}${date.slice(8, 10)}`);
      expect(order.code).toMatch(/^\d+$/);
    }
  });

  it("repeats 5–10 % of orders across files, sometimes with a newer status, later file winning", () => {
    const seen = new Map<string, RefOrder[]>();
    for (const file of files) for (const order of file.orders.values()) seen.set(order.code, [...(seen.get(order.code) ?? []), order]);
    const repeated = [...seen.values()].filter((v) => v.length > 1);
    // 7 of 8 files receive an overlap; the rate per overlap is 3–12 % of a file.
    expect(share(repeated.length, landed.size)).toBeGreaterThan(0.04);
    expect(share(repeated.length, landed.size)).toBeLessThan(0.1);
    const changed = repeated.filter((v) => v[0]?.status !== v[v.length - 1]?.status);
    expect(changed.length).toBeGreaterThan(repeated.length / 4);
    for (const versions of repeated) expect(landed.get(versions[0]?.code as string)).toBe(versions[versions.length - 1]);
  });

  it.skipIf(!FIXTURE)("lays settlement reports out like the real fixture, with a total(Rp) line of the column sums", NEEDS_SHARED_FIXTURES, () => {
    const fixtureText = readFileSync(FIXTURE as string, "utf8");
    const fixture = readSettlement(fixtureText);
    expect(fixture.headerLine).toBe(6);
    expect(settlementFiles.length).toBeGreaterThan(5 * 20);
    for (const { name, text, report } of settlementFiles) {
      expect(text.charCodeAt(0), name).toBe(0xfeff);
      expect(text.replace(/\r\n/g, "").includes("\n"), name).toBe(false);
      expect(text.endsWith("\r\n"), name).toBe(true);
      expect(report.headerLine, name).toBe(6);
      expect(report.header).toEqual(fixture.header);
      expect(report.header).toHaveLength(39);
      expect(report.header[33]).toBe("");
      expect(report.lines[0]).toBe(fixture.lines[0]);
      expect(report.lines[2]).toBe(fixture.lines[2]);
      expect(report.lines[3]).toBe(fixture.lines[3]);
      expect(report.lines[5]).toBe(fixture.lines[5]);
      expect(report.lines[4]?.startsWith("total(Rp),")).toBe(true);
      const [username, from, to] = report.lines[1]?.split(",") ?? [];
      expect(summary.stores.map((s) => s.username)).toContain(username);
      expect(name).toBe(`shopee-income-${username}-${from?.replace(/-/g, "")}_${to?.replace(/-/g, "")}.csv`);
      expect(report.rows.length).toBeGreaterThan(0);
      for (const row of report.rows) {
        expect(row).toHaveLength(39);
        expect(row[6]! >= from! && row[6]! <= to!, `${name} payout ${row[6]}`).toBe(true);
        let net = 0;
        for (let c = 7; c <= 26; c++) net += Number(row[c]);
        expect(Number(row[27])).toBe(net);
      }
      for (let c = 0; c < 39; c++) {
        if (fixture.totals[c] === "" || c === 0) {
          expect(report.totals[c], `${name} column ${c}`).toBe(fixture.totals[c]);
        } else {
          expect(Number(report.totals[c]), `${name} column ${c}`).toBe(report.rows.reduce((s, r) => s + Number(r[c]), 0));
        }
      }
    }
    // The fixture obeys the same arithmetic the generator copies from it.
    for (const row of fixture.rows) {
      let net = 0;
      for (let c = 7; c <= 26; c++) net += Number(row[c]);
      expect(Number(row[27])).toBe(net);
    }
  });

  it("writes the reconcile outcome of every (store, invoice) of what the files hold, in the expected mix", () => {
    const byUsername = new Map(summary.stores.map((s) => [s.username, s.name]));
    const settled = new Map<string, { harga: number; refund: number }>();
    for (const { report } of settlementFiles) {
      const store = byUsername.get(report.username) as string;
      for (const row of report.rows) {
        const key = `${storeKey(store)}|${row[1]}`;
        expect(settled.has(key)).toBe(false);
        settled.set(key, { harga: Number(row[7]), refund: Number(row[9]) });
      }
    }
    const expected = reconcile(landed.values(), settled);
    const lines = readFileSync(path.join(out, "outcomes.csv"), "utf8").split("\n").filter(Boolean);
    expect(lines[0]).toBe("store,invoice,outcome,expected,actual,diff,split_invoice,order_date");
    const written = new Map<string, Record<"outcome" | "exp" | "actual" | "diff" | "split" | "date", string | undefined>>(
      lines.slice(1).map((l) => {
        const [store, invoice, outcome, exp, actual, diff, split, date] = l.split(",");
        return [`${storeKey(store ?? "")}|${invoice}`, { outcome, exp, actual, diff, split, date }];
      }),
    );
    expect(written.size).toBe(lines.length - 1);
    expect([...written.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, want] of expected) {
      const got = written.get(key);
      expect({ key, outcome: got?.outcome, expected: got?.exp, actual: got?.actual, split: got?.split }).toEqual({
        key,
        outcome: want.outcome,
        expected: want.expected === null ? "" : String(want.expected),
        actual: want.actual === null ? "" : String(want.actual),
        split: String(want.split),
      });
      if (want.expected !== null && want.actual !== null) expect(Number(got?.diff)).toBe(want.actual - want.expected);
    }
    const total = expected.size;
    const mix = (o: string) => share([...expected.values()].filter((x) => x.outcome === o).length, total);
    expect(mix("matched")).toBeGreaterThan(0.72);
    expect(mix("matched")).toBeLessThan(0.85);
    expect(mix("amount_mismatch")).toBeGreaterThanOrEqual(0.03);
    expect(mix("amount_mismatch")).toBeLessThanOrEqual(0.05);
    expect(mix("missing_settlement")).toBeGreaterThanOrEqual(0.05);
    expect(mix("missing_settlement")).toBeLessThanOrEqual(0.1);
    expect(mix("orphan_settlement")).toBeGreaterThan(0.015);
    expect(mix("orphan_settlement")).toBeLessThan(0.025);
    expect(mix("returned")).toBeGreaterThanOrEqual(0.01);
    expect(mix("returned")).toBeLessThanOrEqual(0.03);
    const split = share([...expected.values()].filter((x) => x.split).length, total);
    expect(split).toBeGreaterThan(0.0015);
    expect(split).toBeLessThan(0.005);
    // About 90 % of completed orders are settled.
    const completed = [...landed.values()].filter((o) => statusClass(o.status) === "completed");
    const covered = completed.filter((o) => settled.has(`${o.store}|${o.invoice}`)).length;
    expect(share(covered, completed.length)).toBeGreaterThan(0.88);
    expect(share(covered, completed.length)).toBeLessThan(0.95);
    expect(summary.totals.outcomes.matched).toBe([...expected.values()].filter((x) => x.outcome === "matched").length);
  });
});

describe("npm run generate", () => {
  it("prints a one-line JSON summary, refuses a non-empty directory and bad options", () => {
    const out = path.join(tmp, "cli");
    const run = (...args: string[]) => spawnSync(TSX, ["dev/generate.ts", ...args], { cwd: ROOT, encoding: "utf8" });
    const ok = run("--rows", "400", "--files", "2", "--seed", "cli", "--out", out);
    expect(ok.status, ok.stderr).toBe(0);
    const last = JSON.parse(ok.stdout.trim().split("\n").pop() as string) as Record<string, unknown>;
    expect(last).toMatchObject({ generate: out, rows: 400, purchase_files: 2 });
    expect(typeof last.peak_rss_mb).toBe("number");
    const again = run("--rows", "400", "--files", "2", "--seed", "cli", "--out", out);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain("not empty");
    const forced = run("--rows", "400", "--files", "2", "--seed", "cli", "--out", out, "--force");
    expect(forced.status, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout.trim()).fingerprint).toBe(last.fingerprint);
    const bad = run("--rows", "0", "--out", path.join(tmp, "cli-bad"));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("--rows");
  }, 60_000);
});
