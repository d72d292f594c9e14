/**
 * Time in the synthetic data set. All times are Asia/Jakarta wall-clock times (UTC+7,
 * no daylight saving), kept as "local seconds": seconds since 1970-01-01 00:00 of the
 * local clock. Formatting them with the UTC accessors of Date therefore prints local
 * time without any time-zone arithmetic.
 *
 * The order clock covers 12 months (1 June 2024 – 31 May 2025) and is shaped by a
 * weekly cycle, slow growth over the year, 3–5x spikes on twin dates (6.6 … 12.12,
 * 3.3, 4.4, 5.5) with a midnight rush, and payday spikes (3–5x on the 25th, easing
 * through the 1st). Orders are placed on the clock by the inverse of its cumulative
 * distribution, so order times rise monotonically with the position in the output.
 */
import { type Rng } from "./rng.js";

export const WINDOW_START = Date.UTC(2024, 5, 1) / 1000;
export const WINDOW_DAYS = 365;
const HOUR = 3600;
export const DAY = 86_400;

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

// Sunday first (Date#getUTCDay). Weekends and Monday evenings sell a little more.
const WEEKDAY = [1.12, 1.04, 0.97, 0.95, 0.96, 0.99, 1.08];
// Hours of the day: quiet nights, a lunch peak and the big evening peak.
const HOURLY = [
  0.45, 0.25, 0.15, 0.1, 0.1, 0.2, 0.45, 0.75, 0.95, 1.05, 1.15, 1.25, 1.35, 1.25, 1.15, 1.1, 1.05, 1.0, 1.05, 1.25,
  1.5, 1.6, 1.4, 0.95,
];

export interface DayInfo {
  twin: boolean;
  payday: boolean;
  factor: number;
}

export class OrderClock {
  /** Cumulative weight per hour of the window. */
  private readonly cumulative: Float64Array;
  readonly days: DayInfo[] = [];

  constructor(rng: Rng) {
    const weights = new Float64Array(WINDOW_DAYS * 24);
    const paydayPeak = new Map<string, number>();
    for (let day = 0; day < WINDOW_DAYS; day++) {
      const date = new Date((WINDOW_START + day * DAY) * 1000);
      const month = date.getUTCMonth() + 1;
      const dom = date.getUTCDate();
      const twin = dom === month && month >= 3;
      let factor = (WEEKDAY[date.getUTCDay()] as number) * (0.8 + (0.4 * day) / WINDOW_DAYS);
      if (twin) factor *= rng.uniform(3, 5);
      // Payday: the 25th through the 1st of the next month. The spike is highest on
      // the 25th and eases to half its height by the 1st.
      const lastDom = new Date(Date.UTC(date.getUTCFullYear(), month, 0)).getUTCDate();
      const payday = dom >= 25 || dom === 1;
      if (payday) {
        const anchor = dom === 1 ? Date.UTC(date.getUTCFullYear(), month - 2, 25) : Date.UTC(date.getUTCFullYear(), month - 1, 25);
        const key = String(anchor);
        let peak = paydayPeak.get(key);
        if (peak === undefined) {
          peak = rng.uniform(3, 5);
          paydayPeak.set(key, peak);
        }
        const span = dom === 1 ? 1 : (dom - 25) / (lastDom - 25 + 1);
        factor *= 1 + (peak - 1) * (1 - 0.5 * span);
      }
      this.days.push({ twin, payday, factor });
      for (let hour = 0; hour < 24; hour++) {
        let w = HOURLY[hour] as number;
        if (twin && hour < 2) w *= 4; // flash sales open at midnight
        weights[day * 24 + hour] = factor * w;
      }
    }
    this.cumulative = new Float64Array(weights.length);
    let sum = 0;
    for (let i = 0; i < weights.length; i++) {
      sum += weights[i] as number;
      this.cumulative[i] = sum;
    }
  }

  /** The local time at position p ∈ [0, 1) of the year's order volume. */
  timeAt(p: number): number {
    const total = this.cumulative[this.cumulative.length - 1] as number;
    const target = Math.min(Math.max(p, 0), 0.999_999_999) * total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.cumulative[mid] as number) > target) hi = mid;
      else lo = mid + 1;
    }
    const before = lo === 0 ? 0 : (this.cumulative[lo - 1] as number);
    const width = (this.cumulative[lo] as number) - before;
    const frac = width > 0 ? (target - before) / width : 0;
    return WINDOW_START + lo * HOUR + Math.min(HOUR - 1, Math.floor(frac * HOUR));
  }
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** Days since 1970-01-01 of a local time. */
export const dayNumber = (local: number) => Math.floor(local / DAY);

/** `DD Month YYYY, HH:MM:SS`, English month: the Jakmall export's date format. */
export function jakmallDate(local: number): string {
  const d = new Date(local * 1000);
  return `${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}, ${pad2(d.getUTCHours())}:${pad2(
    d.getUTCMinutes(),
  )}:${pad2(d.getUTCSeconds())}`;
}

/** `YYYY-MM-DD` of a day number. */
export function isoDay(day: number): string {
  return new Date(day * DAY * 1000).toISOString().slice(0, 10);
}

/** `YYMMDD` of a day number: the first six characters of a Shopee order number. */
export function yymmdd(day: number): string {
  const iso = isoDay(day);
  return `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}`;
}

/** Half-month settlement periods: the 1st–15th and the 16th–last day, by payout date. */
export interface Period {
  key: number;
  firstDay: number;
  lastDay: number;
}

export function periodOf(day: number): Period {
  const d = new Date(day * DAY * 1000);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth();
  const second = d.getUTCDate() > 15;
  const firstDay = dayNumber(Date.UTC(year, month, second ? 16 : 1) / 1000);
  const lastDay = second ? dayNumber(Date.UTC(year, month + 1, 0) / 1000) : dayNumber(Date.UTC(year, month, 15) / 1000);
  return { key: (year * 12 + month) * 2 + (second ? 1 : 0), firstDay, lastDay };
}
