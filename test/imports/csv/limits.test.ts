import { describe, expect, it } from "vitest";
import {
  type FileError,
  type FileType,
  MAX_HEAD_BYTES,
  MAX_QUOTED_FIELD_BYTES,
  planFileChunks,
  readChunk,
  readRecordsSync,
  SETTLEMENT_COLUMNS,
  sniffFile,
} from "../../../lib/imports/csv/index.js";
import { PURCHASE_FIELDS, type PurchaseColumns, validatePurchaseRecords } from "../../../lib/imports/purchase-rows.js";
import { settlementValidator } from "../../../lib/imports/settlement-rows.js";
import { PURCHASE_HEADER, pieces, prng, purchaseLine } from "./support.js";

const bytes = (text: string) => new TextEncoder().encode(text);

/** The file error of `input`, sniffed whole, planned from one chunk, and planned from a stream of small pieces: all three must agree. */
async function fileErrorOf(input: Uint8Array, fileType: FileType): Promise<FileError | undefined> {
  const sniffed = sniffFile(input, { fileType, complete: true });
  const whole = await planFileChunks([input], { fileType, targetRows: 10 });
  const streamed = await planFileChunks(pieces(input, prng(3), 16 * 1024), { fileType, targetRows: 10 });
  expect(sniffed.status === "error" ? sniffed.error : undefined).toEqual(whole.fileError);
  expect(streamed.fileError).toEqual(whole.fileError);
  return whole.fileError;
}

describe("file limit: the header line must end within the first 1 MiB", () => {
  const header = PURCHASE_HEADER.join(",");
  const row = purchaseLine({}, ",");

  it("refuses a first line of 1 MiB + 1 bytes of field text as line_too_long, naming the limit and line 1", async () => {
    const input = bytes(`${"x".repeat(MAX_HEAD_BYTES + 1)}\n${header}\n${row}\n`);
    const error = await fileErrorOf(input, "purchases");
    expect(error).toMatchObject({ code: "line_too_long", line: 1, byteOffset: 0 });
    expect(error?.message).toMatch(/^Line 1 is longer than 1 MiB, the limit for the header line/);
  });

  it("refuses a 5 MB file with no line end at all as line_too_long on line 1", async () => {
    const input = bytes("Kode Pesanan,SKU,".repeat(Math.ceil(5_000_000 / 17)));
    expect(input.length).toBeGreaterThan(5_000_000);
    for (const fileType of ["purchases", "settlements"] as const) {
      const error = await fileErrorOf(input, fileType);
      expect(error).toMatchObject({ code: "line_too_long", line: 1 });
      expect(error?.message).toContain("1 MiB");
    }
  });

  it("still refuses a clearly binary file with no line end as not_csv", async () => {
    const blob = new Uint8Array(5_000_000).map((_, k) => (k % 97 === 5 ? 0 : 0x20 + (k % 90)));
    expect((await fileErrorOf(blob, "purchases"))?.code).toBe("not_csv");
  });

  it("accepts a header line that ends, line end included, at exactly 1 MiB; one byte more is line_too_long", async () => {
    const padded = (lineLength: number) => `${header},${"x".repeat(lineLength - header.length - 2)}\n`;
    const fits = bytes(`${padded(MAX_HEAD_BYTES)}${row}\n`);
    const filePlan = await planFileChunks(pieces(fits, prng(4), 64 * 1024), { fileType: "purchases", targetRows: 10 });
    expect(filePlan).toMatchObject({ headerLine: 1, totalRows: 1 });
    expect(filePlan.fileError).toBeUndefined();
    expect(filePlan.chunks[0]?.startByte).toBe(MAX_HEAD_BYTES);
    const tooLong = bytes(`${padded(MAX_HEAD_BYTES + 1)}${row}\n`);
    expect(await fileErrorOf(tooLong, "purchases")).toMatchObject({ code: "line_too_long", line: 1 });
  });

  it("names the header's own line when blank lines come before it", async () => {
    const blank = "\r\n,,,\r\n\r\n";
    const input = bytes(`${blank}${header},${"x".repeat(MAX_HEAD_BYTES)}\r\n${row}\r\n`);
    const error = await fileErrorOf(input, "purchases");
    expect(error).toMatchObject({ code: "line_too_long", line: 4, byteOffset: blank.length });
    expect(error?.message).toMatch(/^Line 4 \(from byte 9\) does not end within the file's first 1 MiB/);
  });

  it("names the settlement header's line after the report's preamble", async () => {
    const preamble = ["Laporan Penghasilan", "Username (Penjual),Periode", "mrest0re,2025-05-01 - 2025-05-18", "", "Total,123"];
    const settlementHeader = SETTLEMENT_COLUMNS.map((column) => `"${column.header}"`).join(",");
    const input = bytes(`${preamble.join("\n")}\n${settlementHeader},"${"x".repeat(MAX_HEAD_BYTES)}\n1,2\n`);
    const error = await fileErrorOf(input, "settlements");
    expect(error).toMatchObject({ code: "line_too_long", line: 6 });
    expect(error?.message).toContain("Line 6");
    expect(error?.message).toContain("1 MiB");
  });
});

describe("row limit: a quoted field of more than 64 KiB is field_too_long", () => {
  const header = PURCHASE_HEADER.join(",");
  const columns: PurchaseColumns = {
    header: PURCHASE_HEADER,
    index: Object.fromEntries(PURCHASE_FIELDS.map((field, i) => [field, i + 1])),
  };
  const options = { jobSeq: 1, filePosition: 0, lenientAmounts: false };

  /** The worker's path: plan, read each chunk, validate its rows. */
  async function importRows(input: Uint8Array) {
    const filePlan = await planFileChunks(pieces(input, prng(5), 8192), { fileType: "purchases", targetRows: 1 });
    expect(filePlan.fileError).toBeUndefined();
    const records = [];
    for (const chunk of filePlan.chunks) records.push(...(await readChunk(input.slice(chunk.startByte, chunk.endByte), chunk)).records);
    return validatePurchaseRecords(records, columns, options);
  }

  const file = (productName: string) =>
    bytes(
      [
        header,
        purchaseLine({ No: "1", "Kode Pesanan": "1001" }, ","),
        purchaseLine({ No: "2", "Kode Pesanan": "1002", "Nama Produk": productName }, ","),
        purchaseLine({ No: "3", "Kode Pesanan": "1003" }, ","),
        "",
      ].join("\n"),
    );
  // Quoted by purchaseLine, as it holds the delimiter.
  const nameOf = (length: number) => `Kabel, ${"x".repeat(length - 7)}`;

  it("rejects the record with a message naming the limit and where reading resumes; the next record imports", async () => {
    const result = await importRows(file(nameOf(MAX_QUOTED_FIELD_BYTES + 1)));
    expect(result.errors.map((e) => [e.code, e.line, e.column])).toEqual([["field_too_long", 3, null]]);
    expect(result.errors[0]?.message).toBe(
      "a quoted field longer than 64 KiB (the limit), or never closed: no closing quote within its first 64 KiB; " +
        "the record is skipped from line 3 to the end of line 3, and reading resumes on line 4",
    );
    expect(result.orders.map((order) => order.orderCode)).toEqual(["1001", "1003"]);
  });

  it("accepts a quoted field of exactly 64 KiB", async () => {
    const name = nameOf(MAX_QUOTED_FIELD_BYTES);
    const result = await importRows(file(name));
    expect(result.errors).toEqual([]);
    expect(result.orders.map((order) => order.orderCode)).toEqual(["1001", "1002", "1003"]);
    expect(result.orders[1]?.lines[0]?.productName).toBe(name);
  });

  it("names the lines an over-long field's record spans, and the end of the file when nothing follows", () => {
    const input = bytes(`a,"two\nlines",x,"${"x".repeat(MAX_QUOTED_FIELD_BYTES + 1)}`);
    const [record] = readRecordsSync(input, { delimiter: "," });
    expect(record).toMatchObject({ error: "field_too_long", line: 1, nextLine: 2 });
    const validator = settlementValidator({ header: ["a", "b", "c", "d"], index: { order_sn: 0 } }, { jobSeq: 1, filePosition: 0 });
    validator.add(record as NonNullable<typeof record>);
    const [problem] = validator.finish().errors;
    expect(problem).toMatchObject({ code: "field_too_long", line: 1, column: null });
    expect(problem?.message).toContain("the record is skipped from line 1 to the end of line 2, the end of the file");
  });
});
