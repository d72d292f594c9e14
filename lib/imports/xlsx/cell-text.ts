/**
 * A cell as a person sees it in Excel, as the text the CSV of the same sheet would
 * hold, so the one CSV pipeline validates it:
 * - a number: its decimal digits, never an exponent (Excel stores 40225500 as
 *   `40225500` or `4.02255E7`: both read 40225500), rounded to Excel's 15 significant
 *   digits (0.1 + 0.2 shows 0.3); a fraction stays a fraction, so a fraction of a
 *   rupiah is a row error as in CSV. Display formats (thousands separators, currency)
 *   are not applied: money is read by value.
 * - a number whose format is a date: the wall-clock date it shows. Serial numbers carry
 *   no time zone; the export's clock is Asia/Jakarta, and the text is read as Jakarta
 *   time downstream, so no conversion shifts it. Written the way the file type's CSV
 *   export writes dates (settlements `2025-05-01`, purchases `03 March 2025, 14:05:09`).
 * - booleans TRUE/FALSE, errors as shown (#N/A), strings as they are, a formula's
 *   cached value.
 */
import type { WorkbookCell } from "./workbook.js";

export type DateStyle = "iso" | "jakmall";

export interface CellReading {
  isDate(style: number): boolean;
  date1904: boolean;
  dateStyle: DateStyle;
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAY_MS = 86_400_000;
/** 1899-12-30: day 0 of the 1900 system, for serials past Excel's phantom 29 February 1900. */
const EPOCH_1900 = Date.UTC(1899, 11, 30);
const EPOCH_1904 = Date.UTC(1904, 0, 1);

export function cellText(cell: WorkbookCell, reading: CellReading): string {
  switch (cell.kind) {
    case "number": {
      if (cell.value.trim() === "") return "";
      const value = Number(cell.value);
      if (!Number.isFinite(value)) return cell.value;
      if (reading.isDate(cell.style)) return serialDateText(value, reading);
      return numberText(value);
    }
    case "boolean":
      return cell.value === "1" || cell.value.toLowerCase() === "true" ? "TRUE" : "FALSE";
    case "date":
      return isoDateText(cell.value, reading.dateStyle);
    default:
      return cell.value;
  }
}

/** Decimal digits as Excel shows them in General format: 15 significant digits, no exponent. */
export function numberText(value: number): string {
  // Most cells are whole numbers: String() is exact for them, and Intl's formatting costs
  // microseconds a cell (minutes for a large sheet), so it is kept for exponents only.
  if (Number.isSafeInteger(value)) return String(value);
  const shown = Number(value.toPrecision(15));
  if (Object.is(shown, -0)) return "0";
  const text = String(shown);
  return text.includes("e") ? shown.toLocaleString("en-US", { useGrouping: false, maximumFractionDigits: 20 }) : text;
}

function serialDateText(serial: number, reading: CellReading): string {
  // The 1900 system counts a 29 February 1900 that never was (Lotus's bug, kept by
  // Excel): serials before it are a day off from the epoch the later ones use.
  const epoch = reading.date1904 ? EPOCH_1904 : serial < 60 ? EPOCH_1900 + DAY_MS : EPOCH_1900;
  const wallClock = new Date(epoch + Math.round(serial * 86_400) * 1000);
  return wallClockText(wallClock, reading.dateStyle);
}

/** A `t="d"` cell: ISO 8601 text, read as wall-clock time. */
function isoDateText(value: string, style: DateStyle): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(value.trim());
  if (!match) return value;
  const [, y, mo, d, h = "0", mi = "0", s = "0"] = match;
  return wallClockText(new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s))), style);
}

/** `at`'s UTC fields are the wall clock. */
function wallClockText(at: Date, style: DateStyle): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const date = `${at.getUTCFullYear()}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())}`;
  const time = `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())}`;
  const midnight = at.getUTCHours() === 0 && at.getUTCMinutes() === 0 && at.getUTCSeconds() === 0;
  if (style === "jakmall") return `${pad(at.getUTCDate())} ${MONTHS[at.getUTCMonth()]} ${at.getUTCFullYear()}, ${time}`;
  return midnight ? date : `${date} ${time}`;
}
