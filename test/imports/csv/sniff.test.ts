import { describe, expect, it } from "vitest";
import { planFileChunks, sniffFile } from "../../../lib/imports/csv/index.js";
import { PURCHASE_HEADER, purchaseLine } from "./support.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((part) => [...part]));
const headerLine = (delimiter: string) => PURCHASE_HEADER.join(delimiter);

function sniffPurchases(input: Uint8Array) {
  return sniffFile(input, { fileType: "purchases", complete: true });
}

describe("sniffing: files that are not CSV", () => {
  it.each([
    ["0 bytes", new Uint8Array()],
    ["a BOM only", bytes("\uFEFF")],
    ["whitespace and line ends only", bytes("\uFEFF \r\n\t\n  ")],
  ])("refuses %s as empty_file", (_, input) => {
    const sniffed = sniffPurchases(input);
    expect(sniffed).toMatchObject({ status: "error", error: { code: "empty_file" } });
  });

  it("refuses an Excel workbook (a zip) as not_csv, with the advice to save it as CSV UTF-8", () => {
    const xlsx = concat(Uint8Array.of(0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00), bytes("[Content_Types].xml"));
    const sniffed = sniffPurchases(xlsx);
    expect(sniffed).toMatchObject({ status: "error", error: { code: "not_csv" } });
    if (sniffed.status === "error") expect(sniffed.error.message).toContain('"CSV UTF-8');
  });

  it("refuses binary data (a NUL byte) as not_csv, naming the offset", () => {
    const sniffed = sniffPurchases(concat(bytes("abc,def\n"), Uint8Array.of(0x00, 0x01, 0x02), bytes("xyz")));
    expect(sniffed).toMatchObject({ status: "error", error: { code: "not_csv", byteOffset: 8, line: 2 } });
  });

  it("refuses UTF-16 text as bad_encoding", () => {
    const utf16 = concat(Uint8Array.of(0xff, 0xfe), new Uint8Array(Buffer.from(headerLine(","), "utf16le")));
    expect(sniffPurchases(utf16)).toMatchObject({ status: "error", error: { code: "bad_encoding" } });
    const noBom = new Uint8Array(Buffer.from(headerLine(","), "utf16le"));
    expect(sniffPurchases(noBom)).toMatchObject({ status: "error", error: { code: "bad_encoding" } });
  });

  it("refuses a Latin-1 file as bad_encoding, naming the byte offset and line", () => {
    const head = bytes(`${headerLine(",")}\n`);
    const latin1 = concat(head, bytes("1,Caf"), Uint8Array.of(0xe9), bytes(",x\n"));
    const sniffed = sniffPurchases(latin1);
    expect(sniffed).toMatchObject({ status: "error", error: { code: "bad_encoding", byteOffset: head.length + 5, line: 2 } });
    if (sniffed.status === "error") {
      expect(sniffed.error.message).toContain("0xE9");
      expect(sniffed.error.message).toContain("CSV UTF-8");
    }
  });

  it("finds a Latin-1 byte far past the head while planning, with its offset and line", async () => {
    const good = Array.from({ length: 5000 }, (_, k) => purchaseLine({ No: String(k + 1), "Kode Pesanan": String(1000 + k) }, ",")).join("\n");
    const head = bytes(`${headerLine(",")}\n${good}\n`);
    const input = concat(head, bytes('1,"Jaket k'), Uint8Array.of(0xfc), bytes('lit"\n'));
    expect(head.length).toBeGreaterThan(256 * 1024);
    const plan = await planFileChunks([input.subarray(0, 100_000), input.subarray(100_000)], { fileType: "purchases", targetRows: 100 });
    expect(plan.chunks).toEqual([]);
    expect(plan.fileError).toMatchObject({ code: "bad_encoding", byteOffset: head.length + 10, line: 5002 });
  });

  it("refuses a file that ends in the middle of a character", async () => {
    const input = concat(bytes(`${headerLine(",")}\n1,caf`), Uint8Array.of(0xc3));
    const plan = await planFileChunks([input], { fileType: "purchases", targetRows: 10 });
    expect(plan.fileError).toMatchObject({ code: "bad_encoding", byteOffset: input.length - 1 });
  });
});

describe("sniffing: delimiter and header", () => {
  it.each([
    [",", "comma"],
    [";", "semicolon (Excel in Indonesian and European locales)"],
    ["\t", "tab"],
  ])("detects %j (%s) from the header line", (delimiter) => {
    const input = bytes(`${headerLine(delimiter)}\r\n${purchaseLine({}, delimiter)}\r\n`);
    const sniffed = sniffPurchases(input);
    if (sniffed.status !== "ok") throw new Error(JSON.stringify(sniffed));
    expect(sniffed.layout).toMatchObject({ delimiter, headerLine: 1, dataLine: 2, dataStart: headerLine(delimiter).length + 2 });
    expect(sniffed.layout.header.known).toBe(27);
  });

  it("accepts a header-only file: a header, no rows (not an empty file)", async () => {
    const input = bytes(`\uFEFF${headerLine(";")}\r\n`);
    expect(sniffPurchases(input)).toMatchObject({ status: "ok", layout: { delimiter: ";", dataStart: input.length } });
    const plan = await planFileChunks([input], { fileType: "purchases", targetRows: 10 });
    expect(plan).toMatchObject({ totalRows: 0, chunks: [], delimiter: ";", headerLine: 1 });
    expect(plan.fileError).toBeUndefined();
  });

  it("tolerates blank lines before the header, and counts them", () => {
    const sniffed = sniffPurchases(bytes(`\r\n,,,\r\n${headerLine(",")}\r\n`));
    expect(sniffed).toMatchObject({ status: "ok", layout: { headerLine: 3, dataLine: 4 } });
  });

  it("refuses a file whose header is nothing known (unknown_header)", () => {
    expect(sniffPurchases(bytes("name,price\nkabel,100\n"))).toMatchObject({ status: "error", error: { code: "unknown_header", line: 1 } });
  });

  it("asks for more bytes while the header line is not complete, and decides once it is", () => {
    const input = bytes(`${headerLine(",")}\n`);
    expect(sniffFile(input.subarray(0, 50), { fileType: "purchases", complete: false })).toEqual({ status: "need_more" });
    expect(sniffFile(input, { fileType: "purchases", complete: false }).status).toBe("ok");
  });
});
