import { describe, expect, it } from "vitest";
import { type ChunkRange, readChunk } from "../../../lib/imports/csv/index.js";
import { PURCHASE_HEADER, purchaseLine } from "./support.js";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("range parsing", () => {
  const body = bytes(`${purchaseLine({ "Kode Pesanan": "1" }, ";")}\r\n\r\n${purchaseLine({ "Kode Pesanan": "2", "Nama Produk": "a;b" }, ";")}\r\n`);
  const range: ChunkRange = {
    startByte: 1000,
    endByte: 1000 + body.length,
    firstLine: 40,
    layout: { fileType: "purchases", delimiter: ";", header: PURCHASE_HEADER },
  };

  it("reads a range alone: file offsets and physical lines from the chunk's start, skipped lines set apart", async () => {
    const { records, skipped, columns } = await readChunk(body, range);
    expect(records.map((r) => [r.line, r.startByte, r.fields[3], r.fields[6]])).toEqual([
      [40, 1000, "1", "Kabel Data"],
      [42, expect.any(Number), "2", "a;b"],
    ]);
    expect(skipped).toEqual([{ line: 41, reason: "blank" }]);
    expect(records.at(-1)?.endByte).toBe(range.endByte);
    expect(columns.index.order_code).toBe(3);
    expect(columns.header).toEqual(PURCHASE_HEADER);
  });

  it("ignores bytes past the range (a stream that runs on)", async () => {
    const more = new Uint8Array([...body, ...bytes("garbage;more\r\n")]);
    expect((await readChunk([more.subarray(0, 10), more.subarray(10)], range)).records).toHaveLength(2);
  });

  it("refuses a short read instead of cutting the last record", async () => {
    await expect(readChunk(body.subarray(0, body.length - 5), range)).rejects.toThrow(/read \d+ of \d+ bytes/);
  });
});
