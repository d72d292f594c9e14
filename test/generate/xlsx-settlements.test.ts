/**
 * `npm run generate -- --format xlsx`: the settlement reports as workbooks shaped like
 * the real one (five sheets, Income second), whose sheet Income holds the CSV output of
 * the same seed cell for cell on the same row numbers; deterministic; the purchase files
 * and the manifests as with CSV. And writeSettlementWorkbook / settlementCsvText, the
 * pair other code uses to write one report from rows of its own.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Papa from "papaparse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OptionsError, parseOptions, type GenerateOptions } from "../../dev/generate/options.js";
import { generate, type Summary } from "../../dev/generate/run.js";
import {
  NUMERIC_COLUMNS,
  SETTLEMENT_HEADERS,
  settlementCsvText,
  TOTALLED_COLUMNS,
  writeSettlementWorkbook,
  type SettlementReport,
} from "../../dev/generate/settlement-workbook.js";
import { openWorkbook, type WorkbookRow } from "../../lib/imports/xlsx/workbook.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const SHEETS = ["Summary", "Income", "Service Fee Details", "Adjustment", "Shipping Fee Discrepancy"];
// A variable, not a literal: the reader's limits may grow fields this test does not care about.
const LIMITS = { maxSharedStringBytes: 64 * 1024 * 1024, maxPartBytes: 512 * 1024 * 1024, maxRatio: 1000 };

const tmp = mkdtempSync(path.join(os.tmpdir(), "dropflow-generate-xlsx-"));
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

/** CSV text → records; line N is records[N - 1] (the trailing line ending ends the last record). */
function csvRecords(text: string): string[][] {
  const records = Papa.parse<string[]>(text.replace(/^\uFEFF/, ""), { skipEmptyLines: false }).data;
  if (records.at(-1)?.join("") === "" && text.endsWith("\r\n")) records.pop();
  return records;
}

async function readWorkbook(file: string): Promise<{ sheets: string[]; rows: Map<string, WorkbookRow[]> }> {
  const workbook = await openWorkbook(file, LIMITS);
  try {
    const rows = new Map<string, WorkbookRow[]>();
    for (const sheet of workbook.sheets) {
      const list: WorkbookRow[] = [];
      for await (const row of workbook.rows(sheet.name)) list.push(row);
      rows.set(sheet.name, list);
    }
    return { sheets: workbook.sheets.map((s) => s.name), rows };
  } finally {
    workbook.close();
  }
}

/** Sheet Income against the CSV: row N = line N, every non-empty field a cell of the same text, an all-empty line no row. */
function expectIncomeEqualsCsv(income: WorkbookRow[], records: string[][], label: string): void {
  const byRow = new Map(income.map((row) => [row.row, row]));
  expect(Math.max(...income.map((r) => r.row)), label).toBe(records.length);
  records.forEach((record, i) => {
    const line = i + 1;
    const row = byRow.get(line);
    const filled = record.map((field, column) => [column, field] as const).filter(([, field]) => field !== "");
    if (filled.length === 0) {
      expect(row, `${label} row ${line} should have no <row>`).toBeUndefined();
      return;
    }
    // Numbers compare as their decimal text: the cell's value is Excel's own text of the number.
    expect(
      row?.cells.map((cell) => [cell.column, cell.value]),
      `${label} row ${line}`,
    ).toEqual(filled.map(([column, field]) => [column, field]));
  });
}

describe("npm run generate -- --format xlsx", () => {
  let csvSummary: Summary;
  let xlsxSummary: Summary;
  const csvDir = path.join(tmp, "csv");
  const xlsxDir = path.join(tmp, "xlsx");

  beforeAll(async () => {
    csvSummary = await generate(options("csv"));
    xlsxSummary = await generate(options("xlsx", { format: "xlsx" }));
  }, 120_000);

  it("parses --format csv|xlsx, csv by default", () => {
    expect(parseOptions(["--out", "x"]).format).toBe("csv");
    expect(parseOptions(["--out", "x", "--format", "xlsx"]).format).toBe("xlsx");
    expect(() => parseOptions(["--out", "x", "--format", "ods"])).toThrow(OptionsError);
  });

  it("writes each settlement report as an .xlsx of the five sheets, the rest as with CSV", () => {
    const csvReports = csvSummary.files.filter((f) => f.file_type === "settlements");
    const xlsxReports = xlsxSummary.files.filter((f) => f.file_type === "settlements");
    expect(xlsxReports.length).toBeGreaterThan(10);
    expect(xlsxReports.map((f) => f.name)).toEqual(csvReports.map((f) => f.name.replace(/\.csv$/, ".xlsx")));
    expect(xlsxReports.map((f) => [f.rows, f.lines, f.store, f.period])).toEqual(csvReports.map((f) => [f.rows, f.lines, f.store, f.period]));
    for (const entry of xlsxReports) {
      expect(entry.name).toMatch(/^settlements\/shopee-income-[^/]+-\d{8}_\d{8}\.xlsx$/);
      const bytes = readFileSync(path.join(xlsxDir, entry.name));
      expect(bytes.length).toBe(entry.bytes);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(entry.sha256);
      expect(bytes.subarray(0, 2).toString("latin1")).toBe("PK");
    }
    expect(readdirSync(path.join(xlsxDir, "settlements")).every((name) => name.endsWith(".xlsx"))).toBe(true);
    // Purchases and manifests do not change with the format; the summary names it only for xlsx.
    expect(hashDir(path.join(xlsxDir, "purchases"))).toBe(hashDir(path.join(csvDir, "purchases")));
    for (const name of ["outcomes.csv", "bad-rows.jsonl"]) expect(readFileSync(path.join(xlsxDir, name))).toEqual(readFileSync(path.join(csvDir, name)));
    expect(xlsxSummary.generator.options.format).toBe("xlsx");
    expect(csvSummary.generator.options).not.toHaveProperty("format");
    expect(xlsxSummary.totals).toEqual(csvSummary.totals);
  });

  it("holds in sheet Income the CSV output of the same seed, cell for cell on the same row numbers", async () => {
    let orders = 0;
    for (const entry of xlsxSummary.files.filter((f) => f.file_type === "settlements")) {
      const csvText = readFileSync(path.join(csvDir, entry.name.replace(/\.xlsx$/, ".csv")), "utf8");
      const records = csvRecords(csvText);
      const { sheets, rows } = await readWorkbook(path.join(xlsxDir, entry.name));
      expect(sheets).toEqual(SHEETS);
      const income = rows.get("Income") ?? [];
      expectIncomeEqualsCsv(income, records, entry.name);
      expect(income.slice(0, 4).map((r) => r.row)).toEqual([1, 2, 5, 6]);

      // Amounts are numbers, dates and the rest text; total(Rp) holds SUM formulas over the orders.
      const last = 6 + entry.rows;
      for (const row of income.filter((r) => r.row >= 7)) {
        for (const cell of row.cells) expect(cell.kind, cell.ref).toBe(NUMERIC_COLUMNS.includes(cell.column) ? "number" : "string");
      }
      const totals = income.find((r) => r.row === 5);
      expect(totals?.cells[0]).toMatchObject({ ref: "A5", kind: "string", value: "total(Rp)", formula: false });
      expect(totals?.cells.slice(1).map((c) => c.column)).toEqual(TOTALLED_COLUMNS);
      for (const cell of totals?.cells.slice(1) ?? []) expect(cell).toMatchObject({ kind: "number", formula: true });
      expect(income.find((r) => r.row === 7)?.cells.find((c) => c.column === 4)?.kind).toBe("string");

      // Only Income's header has both columns the importer looks for; Service Fee Details is a near miss.
      const both = (row: WorkbookRow) => ["No. Pesanan", "Total Penghasilan"].every((h) => row.cells.some((c) => c.value === h));
      for (const name of SHEETS) expect((rows.get(name) ?? []).filter(both).map((r) => r.row), name).toEqual(name === "Income" ? [6] : []);
      expect((rows.get("Service Fee Details") ?? []).some((r) => r.cells.some((c) => c.value === "No. Pesanan"))).toBe(true);
      expect(rows.get("Service Fee Details")?.length).toBeGreaterThan(2);
      const summary = rows.get("Summary") ?? [];
      const released = summary.find((r) => r.cells[0]?.value === "3. Total yang Dilepas");
      expect(released?.cells.at(-1)?.value).toBe(records[4]?.[27]);
      orders += income.filter((r) => r.row >= 7).length;
      expect(last).toBe(records.length);
    }
    expect(orders).toBe(xlsxSummary.totals.settlementRows);
  }, 120_000);

  it("gives byte-identical workbooks for the same options", async () => {
    await generate(options("xlsx-again", { format: "xlsx" }));
    expect(hashDir(path.join(tmp, "xlsx-again"))).toBe(hashDir(xlsxDir));
  }, 120_000);

  it("takes --format xlsx on the command line", () => {
    const out = path.join(tmp, "cli");
    const run = spawnSync(TSX, ["dev/generate.ts", "--rows", "400", "--files", "2", "--seed", "cli", "--format", "xlsx", "--out", out], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    const names = readdirSync(path.join(out, "settlements"));
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((name) => name.endsWith(".xlsx"))).toBe(true);
    const bad = spawnSync(TSX, ["dev/generate.ts", "--format", "ods", "--out", path.join(tmp, "cli-bad")], { cwd: ROOT, encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("--format must be csv or xlsx");
  }, 60_000);

  it("settlementCsvText writes exactly what the generator writes as CSV", () => {
    for (const entry of csvSummary.files.filter((f) => f.file_type === "settlements").slice(0, 6)) {
      const text = readFileSync(path.join(csvDir, entry.name), "utf8");
      const records = csvRecords(text);
      const report: SettlementReport = {
        username: records[1]?.[0] ?? "",
        from: records[1]?.[1] ?? "",
        to: records[1]?.[2] ?? "",
        rows: records.slice(6),
      };
      expect(settlementCsvText(report)).toBe(text);
    }
  });
});

describe("writeSettlementWorkbook", () => {
  const row = (no: number, order: string, harga: string, extra: Record<number, string> = {}): string[] => {
    const fields = SETTLEMENT_HEADERS.map(() => "0");
    fields[0] = String(no);
    fields[1] = order;
    fields[2] = "";
    fields[3] = "buyer & co";
    fields[4] = "2025-05-01";
    fields[5] = "COD (Bayar di Tempat)";
    fields[6] = "2025-05-04";
    fields[7] = harga;
    fields[21] = "-500";
    fields[28] = "";
    fields[31] = "Reguler";
    fields[32] = "SPX Standard";
    fields[33] = "";
    for (const [column, value] of Object.entries(extra)) fields[Number(column)] = value;
    return fields;
  };
  const report: SettlementReport = {
    username: "toko.contoh",
    from: "2025-05-01",
    to: "2025-05-15",
    rows: [
      row(3, "250501AAAA0001", "15800"),
      row(4, "250501AAAA0002", "12.5"),
      row(9, "250501AAAA0003", "abc", { 8: "", 27: "-1e3", 29: " 7" }),
      row(10, "250501AAAA0004", "-2000", { 3: '  "quoted", <b> ' }),
    ],
  };

  it("writes amounts that parse as numbers as numbers and the rest as text, like its CSV twin", async () => {
    for (const sharedStrings of [true, false]) {
      const file = path.join(tmp, `one-${sharedStrings}.xlsx`);
      await writeSettlementWorkbook(file, report, { sharedStrings });
      const { sheets, rows } = await readWorkbook(file);
      expect(sheets).toEqual(SHEETS);
      const income = rows.get("Income") ?? [];
      const records = csvRecords(settlementCsvText(report));
      expect(records).toHaveLength(10);
      expectIncomeEqualsCsv(income, records, `sharedStrings ${sharedStrings}`);
      const cell = (ref: string) => income.flatMap((r) => r.cells).find((c) => c.ref === ref);
      expect(cell("H7")).toMatchObject({ kind: "number", value: "15800" });
      expect(cell("H8")).toMatchObject({ kind: "number", value: "12.5" });
      expect(cell("H9")).toMatchObject({ kind: "string", value: "abc" });
      expect(cell("I9")).toBeUndefined();
      expect(cell("AB9")).toMatchObject({ kind: "string", value: "-1e3" });
      expect(cell("AD9")).toMatchObject({ kind: "string", value: " 7" });
      expect(cell("D10")).toMatchObject({ kind: "string", value: '  "quoted", <b> ' });
      expect(cell("A7")).toMatchObject({ kind: "number", value: "3" });
      expect(cell("B7")).toMatchObject({ kind: "string", value: "250501AAAA0001" });
      // SUM skips the text, as Excel's does; the CSV's total(Rp) line shows the same.
      expect(cell("H5")).toMatchObject({ kind: "number", value: "13812.5", formula: true });
      expect(records[4]?.[7]).toBe("13812.5");
      expect(cell("AB5")).toMatchObject({ value: "0", formula: true });
    }
  });

  it("writes a report without orders", async () => {
    const file = path.join(tmp, "empty.xlsx");
    await writeSettlementWorkbook(file, { ...report, rows: [] });
    const { rows } = await readWorkbook(file);
    expectIncomeEqualsCsv(rows.get("Income") ?? [], csvRecords(settlementCsvText({ ...report, rows: [] })), "empty");
  });
});
