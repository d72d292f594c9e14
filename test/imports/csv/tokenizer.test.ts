import { describe, expect, it } from "vitest";
import {
  type CsvRecord,
  type Delimiter,
  MAX_QUOTED_FIELD_BYTES,
  RecordReader,
  readRecords,
  readRecordsSync,
} from "../../../lib/imports/csv/index.js";
import { dirtyPurchaseFile, pieces, type PlainRecord, plain, prng, referenceRecords } from "./support.js";

const bytes = (text: string) => new TextEncoder().encode(text);

function read(text: string | Uint8Array, delimiter: Delimiter = ","): PlainRecord[] {
  return readRecordsSync(typeof text === "string" ? bytes(text) : text, { delimiter }).map(plain);
}

/** The same input fed one byte at a time. */
function readByteByByte(input: Uint8Array, delimiter: Delimiter = ",", maxField?: number): CsvRecord[] {
  const out: CsvRecord[] = [];
  const reader = new RecordReader({ delimiter, ...(maxField === undefined ? {} : { maxField }) }, (record) => out.push(record));
  for (let k = 0; k < input.length; k++) reader.push(input.subarray(k, k + 1));
  reader.end();
  return out;
}

describe("tokenizer: fields", () => {
  it("splits on the delimiter and keeps empty fields", () => {
    expect(read("a,b,,d\n,\n").map((r) => r.fields)).toEqual([["a", "b", "", "d"], ["", ""]]);
  });

  it("reads a quoted field with the delimiter inside as one field", () => {
    expect(read('1,"Casing HP, Silikon",3\n')[0]?.fields).toEqual(["1", "Casing HP, Silikon", "3"]);
  });

  it('reads "" inside a quoted field as one quote, and "" alone as an empty field', () => {
    expect(read('"Tas ""Premium"" 15",""\n')[0]?.fields).toEqual(['Tas "Premium" 15', ""]);
    expect(read('"""",x')[0]?.fields).toEqual(['"', "x"]);
  });

  it("closes a quoted field at the end of input", () => {
    expect(read('a,"b"')).toMatchObject([{ fields: ["a", "b"], error: undefined, endByte: 5 }]);
  });

  it("gives an empty last field after a delimiter at the end of input", () => {
    expect(read("a,b,")[0]?.fields).toEqual(["a", "b", ""]);
  });

  it("uses the given delimiter only", () => {
    expect(read("a;b,c\td\n", ";")[0]?.fields).toEqual(["a", "b,c\td"]);
    expect(read("a;b,c\td\n", "\t")[0]?.fields).toEqual(["a;b,c", "d"]);
  });

  it("decodes multi-byte UTF-8 in plain and quoted fields", () => {
    expect(read('Café,"中文, 😀",ñ\n')[0]?.fields).toEqual(["Café", "中文, 😀", "ñ"]);
  });
});

describe("tokenizer: lines and offsets", () => {
  it("takes CRLF, LF and a lone CR as line ends, and counts physical lines", () => {
    const records = read("a\r\nb\nc\rd");
    expect(records.map((r) => [r.fields[0], r.line, r.startByte, r.endByte])).toEqual([
      ["a", 1, 0, 3],
      ["b", 2, 3, 5],
      ["c", 3, 5, 7],
      ["d", 4, 7, 8],
    ]);
  });

  it("makes no empty record from a final line end, but does from an empty line", () => {
    expect(read("a\n")).toHaveLength(1);
    expect(read("a\n\n").map((r) => r.fields)).toEqual([["a"], [""]]);
    expect(read("")).toEqual([]);
  });

  it("counts the line ends inside quoted fields: the next record starts on the right physical line", () => {
    const records = read('1,"two\nlines",x\n2,"three\r\nphysical\rlines",y\r\n3,z\n');
    expect(records.map((r) => [r.fields[0], r.line])).toEqual([
      ["1", 1],
      ["2", 3],
      ["3", 6],
    ]);
    expect(records[1]?.fields[1]).toBe("three\r\nphysical\rlines");
    expect(records[0]?.raw).toBe('1,"two\nlines",x');
  });

  it("skips a UTF-8 BOM at offset 0, but counts it in offsets", () => {
    const records = read("\uFEFFa,b\nc,d\n");
    expect(records.map((r) => [r.fields, r.startByte, r.endByte])).toEqual([
      [["a", "b"], 3, 7],
      [["c", "d"], 7, 11],
    ]);
  });

  it("keeps a BOM that is not at the start of the file (a range starting later is not a file start)", () => {
    const input = bytes("\uFEFFa\n");
    const records = readRecordsSync(input, { delimiter: ",", startByte: 100, firstLine: 9 });
    expect(records.map((r) => [r.fields[0], r.line, r.startByte])).toEqual([["\uFEFFa", 9, 100]]);
  });

  it("gives records that tile the input exactly, raw text without the line end", () => {
    const input = "\uFEFFh1,h2\r\n\"x\ny\",2\r\n\r\nlast";
    const records = read(input);
    expect(records[0]?.startByte).toBe(3);
    for (let k = 1; k < records.length; k++) expect(records[k]?.startByte).toBe(records[k - 1]?.endByte);
    expect(records.at(-1)?.endByte).toBe(bytes(input).length);
    expect(records.map((r) => r.raw)).toEqual(["h1,h2", '"x\ny",2', "", "last"]);
  });
});

describe("tokenizer: stray and unclosed quotes", () => {
  it("makes a quote inside an unquoted field a stray_quote that ends at the line end", () => {
    const records = read('1,Kabel 3" HDMI,"x\ny",4\n2,ok\n');
    // The stray quote makes the quote state untrustworthy: the `"x` after it does not
    // open a quoted field; the record ends at the line end, and so does the next.
    expect(records.map((r) => [r.line, r.error, r.raw])).toEqual([
      [1, "stray_quote", '1,Kabel 3" HDMI,"x'],
      [2, "stray_quote", 'y",4'],
      [3, undefined, "2,ok"],
    ]);
  });

  it("ends an unclosed quoted field's record at the line end where the quote opened, and resumes on the next line", () => {
    const records = read('1,"never closed,a\n2,b\n3,c\n');
    expect(records.map((r) => [r.line, r.error, r.raw, r.startByte, r.endByte])).toEqual([
      [1, "stray_quote", '1,"never closed,a', 0, 18],
      [2, undefined, "2,b", 18, 22],
      [3, undefined, "3,c", 22, 26],
    ]);
    expect(records[0]?.fields).toEqual(["1", '"never closed,a']);
  });

  it('treats a lone quote inside a quoted field (`"12" monitor"`) as not closed', () => {
    const records = read('1,"12" monitor",x\n2,y\n');
    expect(records.map((r) => [r.line, r.error, r.raw])).toEqual([
      [1, "stray_quote", '1,"12" monitor",x'],
      [2, undefined, "2,y"],
    ]);
  });

  it("ends an unclosed quote on the last line at the end of input", () => {
    expect(read('a\n1,"open')).toMatchObject([{ line: 1 }, { line: 2, error: "stray_quote", raw: '1,"open' }]);
  });

  it("counts the quoted line ends before the failing quote, then resyncs", () => {
    const records = read('1,"a\nb","bad\n2\n3\n');
    // Record 1 holds a good two-line field, then an unclosed one opening on line 2.
    expect(records.map((r) => [r.line, r.error])).toEqual([
      [1, "stray_quote"],
      [3, undefined],
      [4, undefined],
    ]);
  });

  it(`closes a quoted field of up to ${MAX_QUOTED_FIELD_BYTES} bytes between its quotes; one byte more is field_too_long`, () => {
    const inside = (length: number) => "x".repeat(length);
    const fits = `1,"${inside(MAX_QUOTED_FIELD_BYTES)}",2\n3\n`;
    expect(read(fits).map((r) => [r.line, r.error, r.fields.length])).toEqual([
      [1, undefined, 3],
      [2, undefined, 1],
    ]);
    const tooLong = `1,"${inside(MAX_QUOTED_FIELD_BYTES + 1)}",2\n3\n`;
    expect(read(tooLong).map((r) => [r.line, r.error, r.endByte])).toEqual([
      [1, "field_too_long", tooLong.indexOf("\n") + 1],
      [2, undefined, tooLong.length],
    ]);
  });

  it("counts an escaped quote as written (two bytes), also right before the closing quote at the limit", () => {
    const field = (length: number) => `"${"x".repeat(length - 2)}"""`;
    expect(read(`${field(MAX_QUOTED_FIELD_BYTES)},2\n`)[0]).toMatchObject({ error: undefined });
    expect(read(`${field(MAX_QUOTED_FIELD_BYTES + 1)},2\n`)[0]).toMatchObject({ error: "field_too_long" });
  });

  it("tells an over-long quoted field from one the input ends inside", () => {
    // Not closed, and the input ends before a closing quote could have come: stray_quote, as any unclosed quote.
    expect(read(`1,"${"x".repeat(MAX_QUOTED_FIELD_BYTES)}`)[0]?.error).toBe("stray_quote");
    // Not closed, and more than the limit read: field_too_long (it cannot wait for the end).
    expect(read(`1,"${"x".repeat(MAX_QUOTED_FIELD_BYTES + 1)}`)[0]?.error).toBe("field_too_long");
  });

  it("resyncs after an over-long quoted field with line ends inside on the line after it opened", () => {
    const long = `"a\nb${"x".repeat(MAX_QUOTED_FIELD_BYTES)}"`;
    const records = read(`h\n1,${long},2\n3,ok\n`);
    expect(records.map((r) => [r.line, r.error])).toEqual([
      [1, undefined],
      [2, "field_too_long"],
      [3, "stray_quote"], // the field's rest: its closing quote is a stray one now
      [4, undefined],
    ]);
    expect(records[1]?.raw).toBe('1,"a');
  });

  it("gives up on a quote left open across many lines after 64 KiB (field_too_long) and resumes on the line after it opened", () => {
    const many = Array.from({ length: 5000 }, (_, k) => `${k},plain line`).join("\n");
    const input = `h\n1,"open\n${many}\n`;
    const records = read(input);
    expect(records.slice(0, 3).map((r) => [r.line, r.error, r.raw])).toEqual([
      [1, undefined, "h"],
      [2, "field_too_long", '1,"open'],
      [3, undefined, "0,plain line"],
    ]);
    expect(records).toHaveLength(5002);
  });
});

describe("tokenizer: input split anywhere", () => {
  const sample =
    '\uFEFFNo,Nama,Kota\r\n1,"Kabel, ""USB""\r\nbaris dua",Café\r\n2,Ka"bel,x\r\n3,"open\r4,中文😀,"ñ"\r\n5,,\r';

  it("gives the same records fed one byte at a time (CRLF, quotes, multi-byte characters straddling)", () => {
    const input = bytes(sample);
    expect(readByteByByte(input).map(plain)).toEqual(read(input));
  });

  it("gives the same records for every single split point", () => {
    const input = bytes(sample);
    const whole = read(input);
    for (let cut = 0; cut <= input.length; cut++) {
      const out: CsvRecord[] = [];
      const reader = new RecordReader({ delimiter: "," }, (record) => out.push(record));
      reader.push(input.subarray(0, cut));
      reader.push(input.subarray(cut));
      reader.end();
      expect(out.map(plain), `cut at ${cut}`).toEqual(whole);
    }
  });

  it("reads an async stream of chunks", async () => {
    async function* stream() {
      yield bytes("a,b\r");
      yield bytes("\nc,");
      yield bytes('"d');
      yield bytes('"\n');
    }
    expect((await readRecords(stream(), { delimiter: "," })).map((r) => [r.line, r.fields])).toEqual([
      [1, ["a", "b"]],
      [2, ["c", "d"]],
    ]);
  });

  it("tells the line of a byte not yet handed out", () => {
    const reader = new RecordReader({ delimiter: "," }, () => undefined);
    reader.push(bytes('a\n"b\nc\r\nd'));
    expect(reader.nextLine).toBe(2);
    expect(reader.lineAt(reader.nextByte + 4)).toBe(3);
    expect(reader.lineAt(reader.nextByte + 7)).toBe(4);
  });
});

describe("tokenizer: the planner's scan mode", () => {
  it("finds the same records and errors locating only the first fields, and decodes the rest on demand", () => {
    const random = prng(7);
    for (let n = 0; n < 30; n++) {
      const file = dirtyPurchaseFile(random);
      const full = readRecordsSync(file.bytes, { delimiter: file.delimiter as Delimiter });
      const scanned = readByteByByte(file.bytes, file.delimiter as Delimiter, 5);
      expect(scanned.map((r) => [r.line, r.startByte, r.endByte, r.error])).toEqual(
        full.map((r) => [r.line, r.startByte, r.endByte, r.error]),
      );
      scanned.forEach((record, k) => {
        expect([record.field(3), record.field(5)]).toEqual([full[k]?.fields[3], full[k]?.fields[5]]);
        expect(record.fields).toEqual(full[k]?.fields);
      });
    }
  });
});

describe("tokenizer: against the reference reading of the rules", () => {
  it("agrees on 300 random dirty files, fed in random pieces", () => {
    const random = prng(20251124);
    for (let n = 0; n < 300; n++) {
      const file = dirtyPurchaseFile(random);
      const expected = referenceRecords(file.bytes, file.delimiter);
      const out: CsvRecord[] = [];
      const reader = new RecordReader({ delimiter: file.delimiter as Delimiter }, (record) => out.push(record));
      for (const piece of pieces(file.bytes, random)) reader.push(piece);
      reader.end();
      expect(out.map(plain), `file ${n}`).toEqual(expected);
    }
  });

  it("agrees on files with quoted fields a few bytes either side of the 64 KiB limit, fed in random pieces", () => {
    const random = prng(65536);
    const errors = new Set<string | undefined>();
    for (let n = 0; n < 40; n++) {
      const file = dirtyPurchaseFile(random, { orders: 1 + Math.floor(random() * 6), longFields: 0.3 });
      const expected = referenceRecords(file.bytes, file.delimiter);
      const out: CsvRecord[] = [];
      const reader = new RecordReader({ delimiter: file.delimiter as Delimiter }, (record) => out.push(record));
      for (const piece of pieces(file.bytes, random, 8192)) reader.push(piece);
      reader.end();
      expect(out.map(plain), `file ${n}`).toEqual(expected);
      for (const record of expected) errors.add(record.error);
    }
    expect(errors).toEqual(new Set([undefined, "stray_quote", "field_too_long"]));
  });

  it("agrees on random bytes drawn from the characters that matter", () => {
    const random = prng(99);
    const alphabet = ['"', '"', ",", "\r", "\n", "a", "é", " "];
    for (let n = 0; n < 2000; n++) {
      const length = Math.floor(random() * 40);
      let text = "";
      for (let k = 0; k < length; k++) text += alphabet[Math.floor(random() * alphabet.length)];
      const input = bytes(text);
      const expected = referenceRecords(input, ",");
      expect(read(input), JSON.stringify(text)).toEqual(expected);
      expect(readByteByByte(input).map(plain), JSON.stringify(text)).toEqual(expected);
    }
  });
});
