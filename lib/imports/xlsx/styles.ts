/**
 * Which cell formats show a number as a date. Excel stores a date as a serial number
 * (days since 1900, the time as the fraction); only the cell's number format says it
 * is one. Built-in formats 14-22 and 45-47 are dates and times (27-36 and 50-58 too,
 * in East Asian locales); a custom format is one when it holds a date or time token
 * (d, m, y, h, s, or an elapsed [h]) outside quoted text, escapes and [colour] or
 * [$-locale] brackets.
 */
import { parsePart } from "./xml.js";
import type { WorkbookZip } from "./zip.js";

const BUILT_IN_DATE_FORMATS = new Set([14, 15, 16, 17, 18, 19, 20, 21, 22, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 45, 46, 47, 50, 51, 52, 53, 54, 55, 56, 57, 58]);

export interface CellFormats {
  /** The cell format (a cell's `s`) shows its number as a date or time. */
  isDate(style: number): boolean;
}

export function isDateFormatCode(code: string): boolean {
  const bare = code
    .replace(/"[^"]*"/g, "")
    .replace(/\\./g, "")
    .replace(/_.|\*./g, "")
    // [h], [mm], [ss] are elapsed times; other brackets are colours, conditions, locales.
    .replace(/\[(?![hms]+\])[^\]]*\]/gi, "");
  // A format's sections: positive;negative;zero;text. The first decides.
  const first = bare.split(";")[0] ?? "";
  return /[dmyhs]/i.test(first) && !/^general$/i.test(first.trim());
}

export async function readCellFormats(zip: WorkbookZip, part: string | null): Promise<CellFormats> {
  const customDate = new Map<number, boolean>();
  const xfDate: boolean[] = [];
  if (part && zip.has(part)) {
    let inCellXfs = false;
    await parsePart(zip, part, (parser) => {
      parser.on("opentag", (tag) => {
        const attributes = tag.attributes as Record<string, string>;
        if (tag.name === "numFmt") customDate.set(Number(attributes.numFmtId), isDateFormatCode(attributes.formatCode ?? ""));
        else if (tag.name === "cellXfs") inCellXfs = true;
        else if (tag.name === "xf" && inCellXfs) {
          const id = Number(attributes.numFmtId ?? 0);
          xfDate.push(customDate.get(id) ?? BUILT_IN_DATE_FORMATS.has(id));
        }
      });
      parser.on("closetag", (tag) => {
        if (tag.name === "cellXfs") inCellXfs = false;
      });
    });
  }
  return { isDate: (style) => xfDate[style] ?? false };
}
