import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import {
  type CsvRecord,
  type Delimiter,
  type FilePlan,
  isSettlementHeaderRow,
  KEYLESS_RUN_LIMIT,
  mapHeader,
  orderKey,
  planFileChunks,
  readChunk,
  readRecordsSync,
  skipReason,
} from "../../../lib/imports/csv/index.js";
import { type DirtyFile, dirtyPurchaseFile, PURCHASE_HEADER, pieces, type PlainRecord, plain, prng, purchaseLine } from "./support.js";
import { NEEDS_SHARED_FIXTURES, sharedFixture } from "../../support/shared-fixtures.js";

const bytes = (text: string) => new TextEncoder().encode(text);

/** One whole-file pass, independent of the planner: tokenize everything, take the header, classify the rest. */
function wholeFilePass(input: Uint8Array, delimiter: Delimiter) {
  const records = readRecordsSync(input, { delimiter });
  const headerAt = records.findIndex((record) => record.fields.some((field) => field.trim() !== ""));
  const header = records[headerAt] as CsvRecord;
  const mapping = mapHeader(header.fields, "purchases");
  const after = records.slice(headerAt + 1);
  const rows = after.filter((record) => skipReason(record, mapping) === null);
  const skipped = after.flatMap((record) => {
    const reason = skipReason(record, mapping);
    return reason ? [{ line: record.line, reason }] : [];
  });
  return { header, mapping, after, rows, skipped };
}

async function plan(input: Uint8Array, targetRows: number, random = prng(1)): Promise<FilePlan> {
  return planFileChunks(pieces(input, random, 4096), { fileType: "purchases", targetRows });
}

/** Parses every chunk alone, from its own bytes fed in random pieces. */
async function readAllChunks(input: Uint8Array, filePlan: FilePlan, random = prng(2)) {
  const perChunk = [];
  for (const chunk of filePlan.chunks) {
    const range = input.slice(chunk.startByte, chunk.endByte); // a copy: nothing outside the range is reachable
    perChunk.push(await readChunk(pieces(range, random, 512), chunk));
  }
  return perChunk;
}

describe("planner: chunk boundaries", () => {
  const header = PURCHASE_HEADER.join(",");
  const line = (no: number, code: string, extra: Partial<Record<string, string>> = {}) =>
    purchaseLine({ No: String(no), "Kode Pesanan": code, ...extra }, ",");

  it("cuts at about targetRows, only where the order changes", async () => {
    const text = [header, line(1, "A"), line(2, "A"), line(3, "A"), line(4, "B"), line(5, "C"), line(6, "C")].join("\r\n");
    const input = bytes(text);
    const filePlan = await plan(input, 2);
    expect(filePlan.chunks.map((c) => [c.firstLine, c.rows])).toEqual([
      [2, 3],
      [5, 3],
    ]);
    expect(filePlan.chunks[0]?.startByte).toBe(header.length + 2);
    expect(filePlan.chunks[1]?.endByte).toBe(input.length);
    expect(filePlan.totalRows).toBe(6);
  });

  it("cuts right after a record whose quoted field holds a line end, with the next chunk's physical line", async () => {
    const text = [header, line(1, "A", { "Nama Produk": "two\r\nlines" }), line(2, "B"), ""].join("\r\n");
    const input = bytes(text);
    const filePlan = await plan(input, 1);
    expect(filePlan.chunks.map((c) => [c.firstLine, c.rows])).toEqual([
      [2, 1],
      [4, 1],
    ]);
    const [first, second] = await readAllChunks(input, filePlan);
    expect(first?.records[0]?.fields[6]).toBe("two\r\nlines");
    expect(second?.records[0]?.line).toBe(4);
  });

  it("keeps CRLF whole at a cut even when the stream splits it", async () => {
    const text = `${header}\r\n${line(1, "A")}\r\n${line(2, "B")}\r\n`;
    const input = bytes(text);
    const crAt = input.indexOf(0x0d, header.length + 2);
    const filePlan = await planFileChunks([input.subarray(0, crAt + 1), input.subarray(crAt + 1)], { fileType: "purchases", targetRows: 1 });
    expect(filePlan.chunks[0]?.endByte).toBe(crAt + 2);
    expect(filePlan.chunks[1]).toMatchObject({ startByte: crAt + 2, firstLine: 3, endByte: input.length });
  });

  it("counts the BOM in every offset", async () => {
    const input = bytes(`\uFEFF${header}\n${line(1, "A")}\n`);
    const filePlan = await plan(input, 1);
    expect(filePlan.chunks).toMatchObject([{ startByte: 3 + bytes(header).length + 1, endByte: input.length, firstLine: 2, rows: 1 }]);
  });

  it("plans a 1-row file as one chunk, with or without a final line end", async () => {
    for (const text of [`${header}\n${line(1, "A")}`, `${header}\n${line(1, "A")}\n`]) {
      const filePlan = await plan(bytes(text), 50);
      expect(filePlan.chunks).toMatchObject([{ firstLine: 2, rows: 1, endByte: bytes(text).length }]);
    }
  });

  it("plans an empty file as empty_file and a header-only file as no chunks", async () => {
    expect((await plan(new Uint8Array(), 10)).fileError?.code).toBe("empty_file");
    const headerOnly = await plan(bytes(`${header}\r\n`), 10);
    expect(headerOnly).toMatchObject({ totalRows: 0, chunks: [] });
    expect(headerOnly.fileError).toBeUndefined();
  });

  it("skips blank, delimiter-only, totals and repeated-header lines in the row counts, but keeps them in the ranges", async () => {
    const text = [header, line(1, "A"), "", ",,,,", header.toUpperCase(), ",,,,,,,99999", line(2, "B"), ""].join("\n");
    const filePlan = await plan(bytes(text), 1);
    expect(filePlan).toMatchObject({ totalRows: 2, skippedRecords: 4 });
    expect(filePlan.chunks.map((c) => [c.firstLine, c.rows])).toEqual([
      [2, 1],
      [7, 1],
    ]);
    const [first] = await readAllChunks(bytes(text), filePlan);
    expect(first?.skipped).toEqual([
      { line: 3, reason: "blank" },
      { line: 4, reason: "blank" },
      { line: 5, reason: "header" },
      { line: 6, reason: "blank" },
    ]);
  });

  it("keeps a stray-quote record with the order before it, and never cuts before it", async () => {
    const text = [header, line(1, "A"), line(2, "A", { "Nama Produk": 'bad"quote' }).replace('"bad""quote"', 'bad"quote'), line(3, "B")].join("\n");
    const filePlan = await plan(bytes(text), 1);
    expect(filePlan.chunks.map((c) => [c.firstLine, c.rows])).toEqual([
      [2, 2],
      [4, 1],
    ]);
    const [first] = await readAllChunks(bytes(text), filePlan);
    expect(first?.records.map((r) => r.error)).toEqual([undefined, "stray_quote"]);
  });

  it("treats codes with the spreadsheet text guard as the same order", async () => {
    const text = [header, line(1, "777"), line(2, "'777"), line(3, " 777 "), line(4, "888")].join("\n");
    expect((await plan(bytes(text), 1)).chunks.map((c) => c.rows)).toEqual([3, 1]);
  });

  it("still cuts a file whose rows have no order key at all, past a run far longer than any order", async () => {
    const broken = Array.from({ length: 2500 }, (_, k) => line(k + 1, "", { SKU: `SKU-${k}` }));
    const filePlan = await plan(bytes([header, line(0, "A"), ...broken, line(9, "B")].join("\n")), 100);
    expect(filePlan.totalRows).toBe(2502);
    // Order A and the first KEYLESS_RUN_LIMIT keyless rows after it stay together; then cuts every 100 rows.
    expect(filePlan.chunks[0]?.rows).toBe(KEYLESS_RUN_LIMIT + 1);
    expect(filePlan.chunks.slice(1, -1).every((c) => c.rows === 100)).toBe(true);
  });

  it("stops reading the stream when the file is refused", async () => {
    let pulled = 0;
    let closed = false;
    async function* source() {
      try {
        yield Uint8Array.of(0x50, 0x4b, 0x03, 0x04, 1, 2, 3, 4, 5, 6);
        for (;;) {
          pulled++;
          yield new Uint8Array(1024 * 1024);
        }
      } finally {
        closed = true;
      }
    }
    const filePlan = await planFileChunks(source(), { fileType: "purchases", targetRows: 10 });
    expect(filePlan.fileError?.code).toBe("not_csv");
    expect(closed).toBe(true);
    expect(pulled).toBeLessThanOrEqual(1);
  });

  it("reads a large file as a stream without holding it", async () => {
    const body = bytes(`${Array.from({ length: 2000 }, (_, k) => line(k + 1, String(100000 + Math.floor(k / 3)))).join("\r\n")}\r\n`);
    const repeats = 40; // ~20 MB, never in memory at once
    async function* source() {
      yield bytes(`${header}\r\n`);
      for (let k = 0; k < repeats; k++) yield body;
    }
    const before = process.memoryUsage().arrayBuffers;
    const filePlan = await planFileChunks(source(), { fileType: "purchases", targetRows: 5000 });
    expect(filePlan.totalRows).toBe(2000 * repeats);
    expect(filePlan.totalBytes).toBe(bytes(`${header}\r\n`).length + body.length * repeats);
    expect(filePlan.chunks.every((c, k) => k === filePlan.chunks.length - 1 || (c.rows >= 5000 && c.rows <= 5002))).toBe(true);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
  });
});

describe("planner property: chunks parsed alone equal one whole-file pass", () => {
  /** Plans `file` for every targetRows from 1 to 50 and checks each plan against one whole-file pass; answers the plans checked. */
  async function checkEveryTarget(file: DirtyFile, n: number, random: () => number): Promise<number> {
    let checked = 0;
    const delimiter = file.delimiter as Delimiter;
    const whole = wholeFilePass(file.bytes, delimiter);
    const expectedRows: PlainRecord[] = whole.rows.map(plain);
    for (let targetRows = 1; targetRows <= 50; targetRows++) {
      const context = `file ${n}, targetRows ${targetRows}`;
      const filePlan = await plan(file.bytes, targetRows, random);
      expect(filePlan.fileError, context).toBeUndefined();
      expect(filePlan.delimiter, context).toBe(delimiter);
      expect(filePlan.totalRows, context).toBe(whole.rows.length);
      expect(filePlan.skippedRecords, context).toBe(whole.skipped.length);
      const { chunks } = filePlan;
      if (whole.rows.length === 0) {
        expect(chunks, context).toEqual([]);
        continue;
      }
      // The chunks tile the data region: header end to end of file, no gap, no overlap.
      expect(chunks[0]?.startByte, context).toBe(whole.header.endByte);
      chunks.forEach((chunk, k) => {
        if (k > 0) expect(chunk.startByte, context).toBe(chunks[k - 1]?.endByte);
        const first = whole.after.find((record) => record.startByte === chunk.startByte);
        expect(first?.line, context).toBe(chunk.firstLine);
        if (k < chunks.length - 1) expect(chunk.rows, context).toBeGreaterThanOrEqual(targetRows);
      });
      expect(chunks.at(-1)?.endByte, context).toBe(file.bytes.length);

      const perChunk = await readAllChunks(file.bytes, filePlan, random);
      perChunk.forEach((read, k) => expect(read.records.length, context).toBe(chunks[k]?.rows));
      expect(perChunk.flatMap((read) => read.records.map(plain)), context).toEqual(expectedRows);
      expect(perChunk.flatMap((read) => read.skipped), context).toEqual(whole.skipped);

      // No order split: consecutive keyed rows with the same key share a chunk.
      const chunkOf = (record: CsvRecord) => chunks.findIndex((c) => record.startByte >= c.startByte && record.startByte < c.endByte);
      let previous: { key: string; chunk: number } | null = null;
      for (const record of whole.rows) {
        const key = orderKey(record, whole.mapping);
        if (key === null) continue;
        if (previous && previous.key === key) expect(chunkOf(record), `${context}: order ${key} split`).toBe(previous.chunk);
        previous = { key, chunk: chunkOf(record) };
      }
      checked++;
    }
    return checked;
  }

  it("holds for random dirty files and every targetRows from 1 to 50", async () => {
    const random = prng(424242);
    let checked = 0;
    for (let n = 0; n < 100; n++) {
      checked += await checkEveryTarget(dirtyPurchaseFile(random, { orders: 1 + Math.floor(random() * 30) }), n, random);
    }
    expect(checked).toBeGreaterThan(4000);
  }, 120_000);

  it("holds with quoted fields a few bytes either side of the 64 KiB limit (field_too_long and its resync)", async () => {
    const random = prng(640001);
    const errors = new Set<string | undefined>();
    for (let n = 0; n < 8; n++) {
      const file = dirtyPurchaseFile(random, { orders: 2 + Math.floor(random() * 10), longFields: 0.25 });
      for (const record of readRecordsSync(file.bytes, { delimiter: file.delimiter as Delimiter })) errors.add(record.error);
      await checkEveryTarget(file, n, random);
    }
    expect(errors).toContain("field_too_long");
  }, 120_000);
});

const incomeReport = sharedFixture("shopee-income-2025-05.csv");

describe.skipIf(!incomeReport)("planner property: settlement reports", NEEDS_SHARED_FIXTURES, () => {
  // Read at collection only when present: the suite is skipped otherwise.
  const fixture = incomeReport ? readFileSync(incomeReport, "utf8").replace(/^\uFEFF/, "").split("\r\n") : [];
  const preamble = fixture.slice(0, 5);
  const header = fixture[5] as string;
  const rows = fixture.slice(6).filter((row) => row !== "");

  /** The real report, cut down and dirtied: other line ends, blank lines, a repeated header, broken quotes, multi-byte text. */
  function dirtySettlementFile(random: () => number): Uint8Array {
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const lines = [...preamble.slice(0, 1 + Math.floor(random() * 5)), header];
    const start = Math.floor(random() * rows.length);
    for (const row of rows.slice(start, start + 1 + Math.floor(random() * 60))) {
      const dirt = random();
      if (dirt < 0.05) lines.push("");
      else if (dirt < 0.07) lines.push(header);
      else if (dirt < 0.1) lines.push(",".repeat(38));
      if (dirt > 0.97) lines.push(row.replace(",Reguler,", ',Reg"uler,'));
      else if (dirt > 0.95) lines.push(row.replace(",Reguler,", ',"Reguler\nSPX, ""Hemat""",'));
      else if (dirt > 0.93) lines.push(row.replace(",Reguler,", ',"Reguler,'));
      else if (dirt > 0.9) lines.push(row.replace(",Online Payment,", ",Pembayaran Ümlaut 中文,"));
      else lines.push(row);
    }
    const lineEnd = pick(["\r\n", "\n"]);
    return new TextEncoder().encode(`\uFEFF${lines.join(lineEnd)}${random() < 0.5 ? lineEnd : ""}`);
  }

  it("holds for the real report dirtied at random, and every targetRows from 1 to 50", async () => {
    const random = prng(777);
    for (let n = 0; n < 25; n++) {
      const input = dirtySettlementFile(random);
      const records = readRecordsSync(input, { delimiter: "," });
      const headerAt = records.findIndex((record) => isSettlementHeaderRow(record.fields));
      const mapping = mapHeader((records[headerAt] as CsvRecord).fields, "settlements");
      const after = records.slice(headerAt + 1);
      const expected = after.filter((record) => skipReason(record, mapping) === null).map(plain);
      for (let targetRows = 1; targetRows <= 50; targetRows++) {
        const context = `file ${n}, targetRows ${targetRows}`;
        const filePlan = await planFileChunks(pieces(input, random, 2048), { fileType: "settlements", targetRows });
        expect(filePlan.fileError, context).toBeUndefined();
        expect(filePlan.headerLine, context).toBe(records[headerAt]?.line);
        expect(filePlan.totalRows, context).toBe(expected.length);
        expect(filePlan.chunks[0]?.startByte, context).toBe(records[headerAt]?.endByte);
        expect(filePlan.chunks.at(-1)?.endByte, context).toBe(input.length);
        const perChunk = await readAllChunks(input, filePlan, random);
        perChunk.forEach((read, k) => expect(read.records.length, context).toBe(filePlan.chunks[k]?.rows));
        expect(perChunk.flatMap((read) => read.records.map(plain)), context).toEqual(expected);
      }
    }
  }, 120_000);
});
