/**
 * Where the CLI writes: human lines and progress on stdout, errors on stderr, and with
 * --json nothing on stdout but the one JSON document (docs/cli.md, "Output").
 */
import type { Writable } from "node:stream";

export interface CliStreams {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
}

export class Output {
  constructor(
    readonly streams: CliStreams,
    /** --json: stdout carries exactly one JSON document, nothing else. */
    readonly json: boolean,
  ) {}

  /** A terminal that redraws a progress bar: stdout is a TTY and no JSON is asked for. */
  get interactive(): boolean {
    return !this.json && this.streams.stdout.isTTY === true;
  }

  /** A line for people; nothing with --json. */
  line(text = ""): void {
    if (!this.json) this.streams.stdout.write(`${text}\n`);
  }

  lines(texts: readonly string[]): void {
    for (const text of texts) this.line(text);
  }

  /** The command's machine-readable answer; only with --json. */
  data(value: unknown): void {
    if (this.json) this.streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** One line on stderr, whatever the mode. */
  error(text: string): void {
    this.streams.stderr.write(`dropflow: ${text}\n`);
  }
}

export const count = (n: number): string => n.toLocaleString("en-US");

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export const rupiah = (n: number | null): string => (n === null ? "" : `Rp ${count(n)}`);

/** Columns padded to their widest cell; `right` names the columns aligned right (numbers). */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>, right: ReadonlySet<number> = new Set()): string[] {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)));
  const render = (row: readonly string[]) =>
    row
      .map((cell, column) => (right.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd();
  return [render(header), ...rows.map(render)];
}
