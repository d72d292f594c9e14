/**
 * The CSV writer of every download: formula-like text neutralised (OWASP CSV injection),
 * RFC 4180 quoting, BOM and CRLF, and a body streamed from its source as it is read.
 */
import Papa from "papaparse";
import { describe, expect, it } from "vitest";
import { type CsvRow, csvCell, csvDownload, csvLine, csvStream } from "../../lib/downloads/csv.js";

const BOM = [0xef, 0xbb, 0xbf];

async function* rowsOf(rows: CsvRow[]): AsyncGenerator<CsvRow> {
  yield* rows;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<{ bytes: Buffer; chunks: number }> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return { bytes: Buffer.concat(parts), chunks: parts.length };
}

/** The file as a spreadsheet or papaparse reads it: BOM dropped, records of cells. */
function parse(bytes: Buffer): string[][] {
  const text = new TextDecoder().decode(bytes); // drops the BOM
  const result = Papa.parse<string[]>(text, { header: false, delimiter: ",", newline: "\r\n", skipEmptyLines: true });
  expect(result.errors).toEqual([]);
  return result.data;
}

describe("csvCell", () => {
  it.each([
    ["=", "=1+1", `"'=1+1"`],
    ["+", "+1", `"'+1"`],
    ["-", "-1", `"'-1"`],
    ["@", "@SUM(A1)", `"'@SUM(A1)"`],
    ["TAB", "\t=1+1", `"'\t=1+1"`],
    ["TAB before text", "\tplain", `"'\tplain"`],
    ["CR", "\r=1+1", `"'\r=1+1"`],
    ["DDE payload", "=cmd|' /C calc'!A0", `"'=cmd|' /C calc'!A0"`],
    ["file name", "=SUM(7*6).csv", `"'=SUM(7*6).csv"`],
  ])("neutralises a cell starting with %s: a leading ' and quotes", (_name, value, written) => {
    expect(csvCell(value)).toBe(written);
  });

  it.each([
    ["space", " =1+1", `"' =1+1"`],
    ["spaces", "   @SUM(A1)", `"'   @SUM(A1)"`],
    ["LF", "\n=1+1", `"'\n=1+1"`],
    ["no-break space", "\u00a0+1", `"'\u00a0+1"`],
    ["space before a minus", " -5", `"' -5"`],
  ])("neutralises a formula character after leading whitespace (%s)", (_name, value, written) => {
    expect(csvCell(value)).toBe(written);
  });

  it("leaves other text alone, formula characters after the first included", () => {
    for (const value of ["plain", "a=b", "1+1", "x@example.com", "  leading spaces", "'already guarded", "Kode-1"]) {
      expect(csvCell(value)).toBe(value);
    }
  });

  it("quotes cells with a comma, a quote, CR or LF, doubling quotes", () => {
    expect(csvCell("Kabel, USB")).toBe(`"Kabel, USB"`);
    expect(csvCell(`say "hi"`)).toBe(`"say ""hi"""`);
    expect(csvCell("two\r\nlines")).toBe(`"two\r\nlines"`);
    expect(csvCell("two\nlines")).toBe(`"two\nlines"`);
    expect(csvCell("two\rlines")).toBe(`"two\rlines"`);
    expect(csvCell(`=HYPERLINK("http://x","y")`)).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
  });

  it("writes null and the empty string as an empty cell", () => {
    expect(csvCell(null)).toBe("");
    expect(csvCell("")).toBe("");
  });

  it("writes numbers as they are, a negative one included (ours, not text from a file)", () => {
    expect(csvCell(42)).toBe("42");
    expect(csvCell(0)).toBe("0");
    expect(csvCell(-5)).toBe("-5");
    expect(csvCell(1.5)).toBe("1.5");
  });
});

describe("csvLine", () => {
  it("joins cells with commas and ends with CRLF", () => {
    expect(csvLine(["a.csv", 3, null, "bad_qty", "=1", "x,y"])).toBe(`a.csv,3,,bad_qty,"'=1","x,y"\r\n`);
  });
});

describe("csvStream", () => {
  const nasty: CsvRow[] = [
    ["=SUM(7*6).csv", 2, "Qty", "=cmd|' /C calc'!A0,rest"],
    ["+1", -3, null, `"quoted", and\r\nmultiline`],
    ["@x", 4, "", "\t\r\n"],
    ["ok", 5, "-", " =1"],
  ];

  it("starts with a UTF-8 BOM, ends every record with CRLF, and reads back as the neutralised values", async () => {
    const { bytes } = await readAll(csvStream(["file", "line", "column", "raw"], rowsOf(nasty)));
    expect([...bytes.subarray(0, 3)]).toEqual(BOM);
    const text = bytes.subarray(3).toString("utf8");
    expect(text.startsWith("file,line,column,raw\r\n")).toBe(true);
    expect(text.endsWith("\r\n")).toBe(true);
    expect(parse(bytes)).toEqual([
      ["file", "line", "column", "raw"],
      ["'=SUM(7*6).csv", "2", "Qty", "'=cmd|' /C calc'!A0,rest"],
      ["'+1", "-3", "", `"quoted", and\r\nmultiline`],
      ["'@x", "4", "", "'\t\r\n"],
      ["ok", "5", "'-", "' =1"],
    ]);
  });

  it("keeps non-ASCII text intact", async () => {
    const { bytes } = await readAll(csvStream(["name"], rowsOf([["Brașov ș ț"], ["Kabel 数据"]])));
    expect(parse(bytes)).toEqual([["name"], ["Brașov ș ț"], ["Kabel 数据"]]);
  });

  it("writes only the BOM and header for no rows", async () => {
    const { bytes } = await readAll(csvStream(["a", "b"], rowsOf([])));
    expect(bytes.equals(Buffer.from("\uFEFFa,b\r\n"))).toBe(true);
  });

  it("pulls rows only as the reader asks, in chunks of about 64 KiB", async () => {
    let produced = 0;
    async function* many(): AsyncGenerator<CsvRow> {
      for (let i = 0; i < 20_000; i++) {
        produced++;
        yield ["file.csv", i, "Qty", "x".repeat(90)];
      }
    }
    const reader = csvStream(["file", "line", "column", "raw"], many()).getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    expect(first.value?.length).toBeGreaterThanOrEqual(64 * 1024);
    expect(first.value?.length).toBeLessThan(64 * 1024 + 200);
    // One chunk asked for, at most one more buffered: far from all 20,000 rows (about 2 MB).
    expect(produced).toBeLessThan(1_500);
    let chunks = 1;
    while (!(await reader.read()).done) chunks++;
    expect(produced).toBe(20_000);
    expect(chunks).toBeGreaterThan(20);
  });

  it("ends its source when the reader cancels (the client went away)", async () => {
    let finished = false;
    async function* endless(): AsyncGenerator<CsvRow> {
      try {
        for (let i = 0; ; i++) yield ["row", i, "y".repeat(100)];
      } finally {
        finished = true;
      }
    }
    const reader = csvStream(["a", "b", "c"], endless()).getReader();
    await reader.read();
    await reader.cancel(new Error("client closed"));
    expect(finished).toBe(true);
  });

  it("errors the stream when its source fails, after what was already sent", async () => {
    async function* failing(): AsyncGenerator<CsvRow> {
      for (let i = 0; i < 2_000; i++) yield ["row", i, "z".repeat(100)];
      throw new Error("connection lost");
    }
    const reader = csvStream(["a", "b", "c"], failing()).getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    await expect(
      (async () => {
        while (!(await reader.read()).done);
      })(),
    ).rejects.toThrow("connection lost");
  });
});

describe("csvDownload", () => {
  it("answers text/csv as an attachment with the given file name", async () => {
    const response = await csvDownload("import-1-errors.csv", ["a"], rowsOf([["=1"]]));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="import-1-errors.csv"');
    expect(parse(Buffer.from(await response.arrayBuffer()))).toEqual([["a"], ["'=1"]]);
  });

  it("fails before answering when the first row cannot be read (the route still answers a problem)", async () => {
    async function* broken(): AsyncGenerator<CsvRow> {
      yield* [];
      throw new Error("database unreachable");
    }
    await expect(csvDownload("x.csv", ["a"], broken())).rejects.toThrow("database unreachable");
  });

  it("refuses a file name that would need quoting in content-disposition", async () => {
    for (const name of ['a".csv', "a b.csv", "=SUM(1).csv", "../x.csv", ""]) {
      await expect(csvDownload(name, ["a"], rowsOf([])), name).rejects.toThrow(/Unsafe download filename/);
    }
  });
});
