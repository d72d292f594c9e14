/**
 * The generator's streaming .xlsx writer (dev/generate/xlsx.ts), read back with the
 * project's own workbook reader: every cell type, sparse rows and cells, escaping,
 * number formats, shared and inline strings, the parts and their order in the zip,
 * determinism, and what it refuses.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import yauzl from "yauzl";
import { afterAll, describe, expect, it } from "vitest";
import { openWorkbook, type WorkbookCell, type WorkbookRow } from "../../lib/imports/xlsx/workbook.js";
import { columnName, writeWorkbook, type XlsxRow, type XlsxSheet } from "../../dev/generate/xlsx.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "dropflow-xlsx-writer-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// A variable, not a literal: the reader's limits may grow fields this test does not care about.
const LIMITS = { maxSharedStringBytes: 16 * 1024 * 1024, maxPartBytes: 512 * 1024 * 1024, maxRatio: 1000 };

async function readSheets(file: string): Promise<{ names: string[]; rows: Map<string, WorkbookRow[]> }> {
  const workbook = await openWorkbook(file, LIMITS);
  try {
    const rows = new Map<string, WorkbookRow[]>();
    for (const sheet of workbook.sheets) {
      const list: WorkbookRow[] = [];
      for await (const row of workbook.rows(sheet.name)) list.push(row);
      rows.set(sheet.name, list);
    }
    return { names: workbook.sheets.map((s) => s.name), rows };
  } finally {
    workbook.close();
  }
}

/** Every part of the zip, inflated, in the zip's own order. */
async function readParts(file: string): Promise<Array<[string, string]>> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true }, (error, opened) => (error || !opened ? reject(error) : resolve(opened))),
  );
  const parts: Array<[string, string]> = [];
  await new Promise<void>((resolve, reject) => {
    zip.on("entry", (entry: yauzl.Entry) => {
      zip.openReadStream(entry, (error, stream) => {
        if (error || !stream) return reject(error);
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          parts.push([entry.fileName, Buffer.concat(chunks).toString("utf8")]);
          zip.readEntry();
        });
      });
    });
    zip.on("end", () => resolve());
    zip.on("error", reject);
    zip.readEntry();
  });
  return parts;
}

const cell = (row: WorkbookRow | undefined, ref: string) => row?.cells.find((c) => c.ref === ref);
const brief = (c: WorkbookCell | undefined) => c && { kind: c.kind, value: c.value, style: c.style, formula: c.formula };

const NASTY = '  leading & <tags> "quoted"  ';
const SHEET_ONE: XlsxRow[] = [
  { row: 1, cells: ["Text", "Number", "Decimal", "Big", "Yes", "No", "Date", "Amount", "Sum", "Label", "Inline", "Raw"] },
  // Row 2 is skipped: no <row> element.
  {
    row: 3,
    cells: [
      NASTY,
      42,
      -12.5,
      123456789012345680000,
      true,
      false,
      { number: 45658, format: "yyyy-mm-dd" },
      { number: 1234567, format: "#,##0" },
      { formula: "SUM(B3:C3)", value: 29.5 },
      { formula: '=IF(B3>0,"pos","neg")', value: "pos" },
      { inline: "  inline & kept  " },
      { text: "raw <str>", raw: true },
    ],
  },
  {
    row: 4,
    // Holes and nulls write no cell; column AM is index 38.
    cells: Object.assign(new Array<XlsxRow["cells"][number]>(39), {
      0: "line one\nline two",
      1: null,
      2: undefined,
      3: "crlf\r\nkept",
      4: "bell\u0007 and \u0000 dropped",
      5: NASTY,
      6: { number: 45658.5, format: "dd/mm/yyyy hh:mm" },
      7: { number: 45659, format: "yyyy-mm-dd" },
      8: "emoji 🚚 日本語",
      38: -0,
    }),
  },
];

async function* sparseRows(count: number): AsyncGenerator<XlsxRow> {
  for (let i = 0; i < count; i++) yield { row: 2 + i * 3, cells: [`order-${i}`, i * 1000, i % 2 === 0 ? "even" : "odd"] };
}

const sheets = (): XlsxSheet[] => [
  { name: "Q&A <1>", rows: SHEET_ONE, dimension: "A1:AM4" },
  { name: "Orders", rows: sparseRows(5000) },
];

describe("the streaming .xlsx writer", () => {
  it("writes every cell type so the workbook reader reads it back cell for cell", async () => {
    const file = path.join(tmp, "shared.xlsx");
    const written = await writeWorkbook(file, sheets());
    const bytes = readFileSync(file);
    expect(written.bytes).toBe(bytes.length);
    expect(written.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));

    const { names, rows } = await readSheets(file);
    expect(names).toEqual(["Q&A <1>", "Orders"]);
    const one = rows.get("Q&A <1>") ?? [];
    expect(one.map((r) => r.row)).toEqual([1, 3, 4]);
    expect(one[0]?.cells.map((c) => [c.ref, c.kind, c.value])).toEqual(
      ["Text", "Number", "Decimal", "Big", "Yes", "No", "Date", "Amount", "Sum", "Label", "Inline", "Raw"].map((v, i) => [
        `${columnName(i)}1`,
        "string",
        v,
      ]),
    );
    const r3 = one[1];
    expect(brief(cell(r3, "A3"))).toEqual({ kind: "string", value: NASTY, style: 0, formula: false });
    expect(brief(cell(r3, "B3"))).toEqual({ kind: "number", value: "42", style: 0, formula: false });
    expect(brief(cell(r3, "C3"))).toEqual({ kind: "number", value: "-12.5", style: 0, formula: false });
    // Integers below 1e21 never in exponent form.
    expect(brief(cell(r3, "D3"))).toEqual({ kind: "number", value: "123456789012345680000", style: 0, formula: false });
    expect(brief(cell(r3, "E3"))).toEqual({ kind: "boolean", value: "1", style: 0, formula: false });
    expect(brief(cell(r3, "F3"))).toEqual({ kind: "boolean", value: "0", style: 0, formula: false });
    // Each distinct number format gets its own cell format, in order of first use.
    expect(brief(cell(r3, "G3"))).toEqual({ kind: "number", value: "45658", style: 1, formula: false });
    expect(brief(cell(r3, "H3"))).toEqual({ kind: "number", value: "1234567", style: 2, formula: false });
    expect(brief(cell(r3, "I3"))).toEqual({ kind: "number", value: "29.5", style: 0, formula: true });
    expect(brief(cell(r3, "J3"))).toEqual({ kind: "string", value: "pos", style: 0, formula: true });
    expect(brief(cell(r3, "K3"))).toEqual({ kind: "string", value: "  inline & kept  ", style: 0, formula: false });
    expect(brief(cell(r3, "L3"))).toEqual({ kind: "string", value: "raw <str>", style: 0, formula: false });

    const r4 = one[2];
    expect(r4?.cells.map((c) => c.ref)).toEqual(["A4", "D4", "E4", "F4", "G4", "H4", "I4", "AM4"]);
    expect(cell(r4, "A4")?.value).toBe("line one\nline two");
    expect(cell(r4, "D4")?.value).toBe("crlf\r\nkept");
    expect(cell(r4, "E4")?.value).toBe("bell and  dropped");
    expect(cell(r4, "F4")?.value).toBe(NASTY);
    expect(brief(cell(r4, "G4"))).toEqual({ kind: "number", value: "45658.5", style: 3, formula: false });
    expect(brief(cell(r4, "H4"))).toEqual({ kind: "number", value: "45659", style: 1, formula: false });
    expect(cell(r4, "I4")?.value).toBe("emoji 🚚 日本語");
    expect(brief(cell(r4, "AM4"))).toEqual({ kind: "number", value: "0", style: 0, formula: false });

    const orders = rows.get("Orders") ?? [];
    expect(orders).toHaveLength(5000);
    expect(orders.map((r) => r.row)).toEqual(Array.from({ length: 5000 }, (_, i) => 2 + i * 3));
    expect(orders[4999]?.cells.map((c) => [c.ref, c.kind, c.value])).toEqual([
      ["A14999", "string", "order-4999"],
      ["B14999", "number", "4999000"],
      ["C14999", "string", "odd"],
    ]);

    // The parts, in Excel's order: shared strings after the sheets; styles with the custom formats from id 164.
    const parts = await readParts(file);
    expect(parts.map(([name]) => name)).toEqual([
      "[Content_Types].xml",
      "_rels/.rels",
      "xl/workbook.xml",
      "xl/_rels/workbook.xml.rels",
      "xl/worksheets/sheet1.xml",
      "xl/worksheets/sheet2.xml",
      "xl/styles.xml",
      "xl/sharedStrings.xml",
    ]);
    const part = (name: string) => parts.find(([n]) => n === name)?.[1] ?? "";
    expect(part("xl/styles.xml")).toContain(
      '<numFmts count="3"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/><numFmt numFmtId="165" formatCode="#,##0"/><numFmt numFmtId="166" formatCode="dd/mm/yyyy hh:mm"/></numFmts>',
    );
    expect(part("xl/styles.xml")).toContain('<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="164"');
    expect(part("xl/styles.xml")).toContain('applyNumberFormat="1"');
    const sheet1 = part("xl/worksheets/sheet1.xml");
    expect(sheet1).toContain('<dimension ref="A1:AM4"/>');
    expect(sheet1).toContain('<row r="3">');
    expect(sheet1).not.toContain('<row r="2"');
    expect(sheet1).toContain('<c r="I3"><f>SUM(B3:C3)</f><v>29.5</v></c>');
    expect(sheet1).toContain('<c r="J3" t="str"><f>IF(B3&gt;0,&quot;pos&quot;,&quot;neg&quot;)</f><v>pos</v></c>');
    expect(part("xl/worksheets/sheet2.xml")).not.toContain("<dimension");
    const sst = part("xl/sharedStrings.xml");
    // NASTY is used twice, stored once; leading spaces kept.
    expect(sst.split("&lt;tags&gt;")).toHaveLength(2);
    expect(sst).toContain('<t xml:space="preserve">  leading &amp; &lt;tags&gt; &quot;quoted&quot;  </t>');
    expect(sst).toMatch(/<sst [^>]*count="\d+" uniqueCount="\d+">/);
    expect(part("xl/workbook.xml")).toContain('<sheet name="Q&amp;A &lt;1&gt;" sheetId="1" r:id="rId1"/>');
  });

  it("writes inline strings without a shared-string part when asked", async () => {
    const file = path.join(tmp, "inline.xlsx");
    await writeWorkbook(file, sheets(), { sharedStrings: false });
    const parts = await readParts(file);
    expect(parts.map(([name]) => name)).not.toContain("xl/sharedStrings.xml");
    const sheet1 = parts.find(([name]) => name === "xl/worksheets/sheet1.xml")?.[1] ?? "";
    expect(sheet1).not.toContain('t="s"');
    expect(sheet1).toContain('<c r="A3" t="inlineStr"><is><t xml:space="preserve">  leading &amp; &lt;tags&gt; &quot;quoted&quot;  </t></is></c>');
    expect(parts.find(([name]) => name === "[Content_Types].xml")?.[1]).not.toContain("sharedStrings");

    // The same cells as with shared strings.
    const inline = await readSheets(file);
    const shared = await readSheets(path.join(tmp, "shared.xlsx"));
    expect(inline.rows).toEqual(shared.rows);
  });

  it("gives the same bytes for the same sheets, and can leave the dimension out", async () => {
    const a = await writeWorkbook(path.join(tmp, "a.xlsx"), sheets());
    const b = await writeWorkbook(path.join(tmp, "b.xlsx"), sheets());
    expect(a).toEqual(b);
    const parts = await readParts(path.join(tmp, "a.xlsx"));
    // Excel's own zip time, no UTC timestamp field: the same bytes in any time zone.
    const c = await writeWorkbook(path.join(tmp, "c.xlsx"), sheets(), { dimension: false });
    expect(c.sha256).not.toBe(a.sha256);
    expect((await readParts(path.join(tmp, "c.xlsx"))).find(([n]) => n === "xl/worksheets/sheet1.xml")?.[1]).not.toContain("<dimension");
    expect(parts).toHaveLength(8);
  });

  it("stores the zip entries with Excel's fixed 1980-01-01 time and no extra timestamp field", () => {
    const bytes = readFileSync(path.join(tmp, "a.xlsx"));
    // Central directory records: signature 0x02014b50, time at +12, date at +14, extra length at +30.
    let records = 0;
    for (let at = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])); at >= 0; at = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), at + 4)) {
      expect([bytes.readUInt16LE(at + 12), bytes.readUInt16LE(at + 14), bytes.readUInt16LE(at + 30)]).toEqual([0, (1 << 5) | 1, 0]);
      records++;
    }
    expect(records).toBe(8);
  });

  it("refuses rows out of order, bad numbers and bad sheet names, and leaves no partial file", async () => {
    const file = path.join(tmp, "refused.xlsx");
    await expect(
      writeWorkbook(file, [
        {
          name: "S",
          rows: [
            { row: 2, cells: ["a"] },
            { row: 2, cells: ["b"] },
          ],
        },
      ]),
    ).rejects.toThrow(/row 2 after row 2/);
    expect(existsSync(file)).toBe(false);
    await expect(writeWorkbook(file, [{ name: "S", rows: [{ row: 1, cells: [Number.NaN] }] }])).rejects.toThrow(/A1: NaN/);
    expect(existsSync(file)).toBe(false);
    await expect(writeWorkbook(file, [{ name: "a/b", rows: [] }])).rejects.toThrow(/not one Excel accepts/);
    await expect(
      writeWorkbook(file, [
        { name: "Same", rows: [] },
        { name: "same", rows: [] },
      ]),
    ).rejects.toThrow(/twice/);
    await expect(writeWorkbook(path.join(tmp, "no-such-dir", "x.xlsx"), [{ name: "S", rows: [{ row: 1, cells: ["a"] }] }])).rejects.toThrow(/ENOENT/);
  });

  it("names columns as Excel does", () => {
    expect([0, 25, 26, 38, 701, 702, 16383].map(columnName)).toEqual(["A", "Z", "AA", "AM", "ZZ", "AAA", "XFD"]);
  });
});
