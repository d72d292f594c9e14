import { describe, expect, it } from "vitest";
import { type CellReading, cellText, numberText } from "../../../lib/imports/xlsx/cell-text.js";
import { cellReference, columnLetters, excelRowOf, shiftsWithin } from "../../../lib/imports/xlsx/convert.js";
import { isDateFormatCode } from "../../../lib/imports/xlsx/styles.js";
import type { WorkbookCell } from "../../../lib/imports/xlsx/workbook.js";

const cell = (value: string, kind: WorkbookCell["kind"] = "number", style = 0): WorkbookCell => ({ column: 0, ref: "A1", kind, value, style, formula: false });
const iso: CellReading = { isDate: (style) => style === 1, date1904: false, dateStyle: "iso" };
const jakmall: CellReading = { ...iso, dateStyle: "jakmall" };

describe("cells as a person sees them", () => {
  it("reads money however Excel stored it as the same whole rupiah, and keeps a fraction a fraction", () => {
    expect(cellText(cell("40225500"), iso)).toBe("40225500");
    expect(cellText(cell("4.02255E7"), iso)).toBe("40225500");
    expect(cellText(cell("40225500.000000007"), iso)).toBe("40225500");
    expect(cellText(cell("-1264"), iso)).toBe("-1264");
    expect(cellText(cell("12.5"), iso)).toBe("12.5");
    expect(numberText(0.1 + 0.2)).toBe("0.3");
    expect(numberText(1e21)).toBe("1000000000000000000000");
    expect(numberText(-0)).toBe("0");
  });

  it("shows a date-formatted serial as the wall-clock date, in the file type's own date text", () => {
    expect(cellText(cell("45778", "number", 1), iso)).toBe("2025-05-01");
    expect(cellText(cell("45778.5853819444", "number", 1), iso)).toBe("2025-05-01 14:02:57");
    expect(cellText(cell("45719.587", "number", 1), jakmall)).toBe("03 March 2025, 14:05:17");
    // The same serial without a date format is a number.
    expect(cellText(cell("45778", "number", 0), iso)).toBe("45778");
    // 1904 system (old Mac Excel), and serials before Excel's phantom 29 February 1900.
    expect(cellText(cell("44316", "number", 1), { ...iso, date1904: true })).toBe("2025-05-01");
    expect(cellText(cell("59", "number", 1), iso)).toBe("1900-02-28");
    expect(cellText(cell("61", "number", 1), iso)).toBe("1900-03-01");
    expect(cellText(cell("2025-05-01T10:20:30", "date"), jakmall)).toBe("01 May 2025, 10:20:30");
  });

  it("reads booleans, errors and strings as Excel shows them", () => {
    expect(cellText(cell("1", "boolean"), iso)).toBe("TRUE");
    expect(cellText(cell("0", "boolean"), iso)).toBe("FALSE");
    expect(cellText(cell("#N/A", "error"), iso)).toBe("#N/A");
    expect(cellText(cell("  0812 ", "string"), iso)).toBe("  0812 ");
  });

  it("tells date formats from number formats", () => {
    for (const code of ["yyyy-mm-dd", "dd/mm/yyyy\\ hh:mm", "[$-409]d-mmm-yy;@", "[h]:mm:ss", "m/d/yy h:mm AM/PM"]) expect(isDateFormatCode(code)).toBe(true);
    for (const code of ["General", "#,##0", '"Rp"#,##0;[Red]-"Rp"#,##0', "0.00%", '#,##0 "days"', "[Red]0.00"]) expect(isDateFormatCode(code)).toBe(false);
  });

  it("names cells as Excel does and maps CSV lines back to rows", () => {
    expect(["A", "Z", "AA", "AM", "XFD"]).toEqual([0, 25, 26, 38, 16383].map(columnLetters));
    expect(cellReference("Income", 7, 57)).toBe("Income!H57");
    expect(cellReference("Service Fee Details", 0, 3)).toBe("'Service Fee Details'!A3");
    expect(cellReference("Income", null, 57)).toBe("Income!57:57");
    // A two-line cell at row 6 (lines 6-7): row 7 starts on line 8.
    const shifts: Array<[number, number]> = [[8, 7]];
    expect([5, 6, 8, 9].map((line) => excelRowOf(line, shifts))).toEqual([5, 6, 7, 8]);
    // A chunk gets the shift in force at its first line and those inside it, no others.
    const many: Array<[number, number]> = [[8, 7], [12, 10], [20, 17], [30, 26]];
    expect(shiftsWithin(many, 1, 8)).toEqual([]);
    expect(shiftsWithin(many, 8, 12)).toEqual([[8, 7]]);
    expect(shiftsWithin(many, 9, 21)).toEqual([[8, 7], [12, 10], [20, 17]]);
    expect(shiftsWithin(many, 25, null)).toEqual([[20, 17], [30, 26]]);
    expect(shiftsWithin([], 5, null)).toEqual([]);
  });
});
