/**
 * The streaming workbook reader (groundwork of the .xlsx import) on the real Shopee
 * income workbook: its sheets, the sparse Income sheet row by row, and every cell equal
 * to the same report converted to CSV cell by cell; plus the ways a workbook is refused.
 */
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Papa from "papaparse";
import { describe, expect, it } from "vitest";
import { WorkbookError } from "../../../lib/imports/xlsx/errors.js";
import { SharedStrings } from "../../../lib/imports/xlsx/shared-strings.js";
import { columnIndex, openWorkbook, type WorkbookRow } from "../../../lib/imports/xlsx/workbook.js";
import { NEEDS_SHARED_FIXTURES, sharedFixture } from "../../support/shared-fixtures.js";

const workbookPath = sharedFixture("shopee-income-2025-05.xlsx");
const csvPath = sharedFixture("shopee-income-2025-05.csv");
const LIMIT = { maxSharedStringBytes: 16 * 1024 * 1024, maxPartBytes: 1024 ** 3, maxRatio: 100 };

async function incomeRows(): Promise<WorkbookRow[]> {
  const workbook = await openWorkbook(workbookPath as string, LIMIT);
  try {
    const rows: WorkbookRow[] = [];
    for await (const row of workbook.rows("Income")) rows.push(row);
    return rows;
  } finally {
    workbook.close();
  }
}

describe("the streaming workbook reader", () => {
  it.skipIf(!workbookPath)("lists the sheets in the workbook's order", NEEDS_SHARED_FIXTURES, async () => {
    const workbook = await openWorkbook(workbookPath as string, LIMIT);
    try {
      expect(workbook.sheets.map((sheet) => sheet.name)).toEqual(["Summary", "Income", "Service Fee Details", "Adjustment", "Shipping Fee Discrepancy"]);
      expect(workbook.sharedStrings.size).toBeGreaterThan(0);
    } finally {
      workbook.close();
    }
  });

  it.skipIf(!workbookPath || !csvPath)("reads the sparse Income sheet cell for cell as the CSV conversion shows it", NEEDS_SHARED_FIXTURES, async () => {
    const rows = await incomeRows();
    // Row 4 has no <row> element: it is absent, and the rows around it keep their numbers.
    expect(rows.slice(0, 5).map((row) => row.row)).toEqual([1, 2, 3, 5, 6]);
    expect(rows.at(-1)?.row).toBe(711);
    expect(rows.filter((row) => row.row >= 7)).toHaveLength(705);

    const csv = Papa.parse<string[]>(readFileSync(csvPath as string, "utf8").replace(/^\uFEFF/, ""), { skipEmptyLines: false }).data;
    let cells = 0;
    for (const row of rows) {
      const record = csv[row.row - 1] ?? [];
      for (const cell of row.cells) {
        expect(cell.value, cell.ref).toBe(record[cell.column] ?? "");
        cells += 1;
      }
      // Nothing the CSV shows is missing from the row.
      expect(row.cells.length, `row ${row.row}`).toBe(record.filter((field) => field !== "").length);
    }
    expect(cells).toBeGreaterThan(705 * 30);

    const total = rows.find((row) => row.row === 5);
    const amount = total?.cells.find((cell) => cell.ref === "H5");
    // The total(Rp) row holds SUM formulas: their cached results are the values.
    expect(amount).toMatchObject({ kind: "number", value: "40225500", formula: true });
    const header = rows.find((row) => row.row === 6);
    expect(header?.cells.slice(0, 2).map((cell) => [cell.ref, cell.kind, cell.value])).toEqual([
      ["A6", "string", "No."],
      ["B6", "string", "No. Pesanan"],
    ]);
  });

  it.skipIf(!workbookPath)("names the sheets it has when asked for one it has not", NEEDS_SHARED_FIXTURES, async () => {
    const workbook = await openWorkbook(workbookPath as string, LIMIT);
    try {
      expect(() => workbook.rows("Orders")).toThrow(/no sheet named "Orders" \(the workbook has "Summary", "Income"/);
    } finally {
      workbook.close();
    }
  });

  it.skipIf(!workbookPath)("refuses shared strings past the configured size with a clear message", NEEDS_SHARED_FIXTURES, async () => {
    const refused = await openWorkbook(workbookPath as string, { ...LIMIT, maxSharedStringBytes: 1024 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(WorkbookError);
    expect(refused).toMatchObject({ code: "shared_strings_too_large" });
    expect((refused as Error).message).toMatch(/shared strings pass .* MB .*save the sheet as CSV UTF-8/);
  });

  it("refuses a file that is not a workbook", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dropflow-test-workbook-"));
    try {
      const file = path.join(dir, "orders.xlsx");
      writeFileSync(file, "No. Pesanan,Total\n1,2\n");
      await expect(openWorkbook(file, LIMIT)).rejects.toMatchObject({ code: "not_a_workbook" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps shared strings exact across slabs, multi-byte text included", () => {
    const table = new SharedStrings(64 * 1024 * 1024);
    const long = "Produk ".repeat(200_000); // 1.4 MB: several fit a slab, then a new slab starts
    const texts = ["", "Ongkos kirim Rp", "日本語のテキスト", "emoji 🚚", ...Array.from({ length: 10 }, (_, i) => `${long}${i}`), "after the slabs"];
    for (const text of texts) table.add(text);
    expect(texts.map((_, i) => table.at(i))).toEqual(texts);
    expect(table.at(texts.length)).toBeUndefined();
    expect(table.at(-1)).toBeUndefined();
  });

  it("keeps every string of a table larger than one index page", () => {
    const table = new SharedStrings(64 * 1024 * 1024);
    const count = 200_000;
    for (let i = 0; i < count; i++) table.add(`order-${i}`);
    expect(table.size).toBe(count);
    for (const i of [0, 65_535, 65_536, 131_072, count - 1]) expect(table.at(i)).toBe(`order-${i}`);
  });

  it("reads column letters as Excel does", () => {
    expect(["A1", "Z9", "AA10", "AM711", "XFD1"].map(columnIndex)).toEqual([0, 25, 26, 38, 16383]);
  });
});
