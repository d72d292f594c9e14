/** How numbers, money, sizes, times and codes read on the page. */

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

export function count(value) {
  return value === null || value === undefined ? "–" : integer.format(value);
}

/** Whole rupiah, as the API counts money. */
export function rupiah(value) {
  return value === null || value === undefined ? "–" : `Rp ${integer.format(value)}`;
}

const compactNumber = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** A large number for a chart axis: "1.2B", "350M", "12K". */
export function compact(value) {
  return compactNumber.format(value);
}

export function percent(value) {
  return value === null || value === undefined ? "–" : `${decimal.format(value)} %`;
}

export function rate(value, unit) {
  return value === null || value === undefined ? null : `${decimal.format(value)} ${unit}/s`;
}

export function bytes(value) {
  if (value === null || value === undefined) return "–";
  const units = ["bytes", "KB", "MB", "GB"];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${integer.format(size)} bytes` : `${decimal.format(size)} ${units[unit]}`;
}

/** Seconds as "45 s", "3 min 5 s", "2 h 4 min". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** A timestamp in the reader's time zone: "2025-03-04 14:05". */
export function dateTime(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A short time for chart labels: "03-04 14:05". */
export function shortDateTime(iso) {
  return dateTime(iso).slice(5);
}

/** An API code as words: "amount_mismatch" -> "Amount mismatch". */
export function words(code) {
  if (!code) return "";
  const text = String(code).replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The last 8 characters of an id, enough to tell runs apart on screen (ids start with their time, so the start is alike). */
export function shortId(id) {
  return String(id).slice(-8);
}
