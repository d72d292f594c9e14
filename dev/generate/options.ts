/** The generator's options, from the command line or a test. */
import { parseArgs } from "node:util";

export interface GenerateOptions {
  /** Purchase data records in all (good, bad and repeated). */
  rows: number;
  /** Purchase files. */
  files: number;
  seed: string;
  /** Share of rows that are deliberately bad (one manifest entry each). */
  badRate: number;
  out: string;
  /** Shops (1–6; a realistic seller has 4–6). */
  stores: number;
  settlements: boolean;
  /** How settlement reports are written: CSV as a seller saves sheet Income (the default), or the .xlsx workbook itself. Purchase files are always CSV. */
  format?: "csv" | "xlsx";
  /** Remove the generator's own earlier outputs from `out` first. */
  force: boolean;
}

export class OptionsError extends Error {}

const integer = (name: string, text: string, min: number, max: number) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new OptionsError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  return value;
};

export function parseOptions(args: string[]): GenerateOptions {
  const { values } = parseArgs({
    args,
    options: {
      rows: { type: "string", default: "20000" },
      files: { type: "string", default: "10" },
      seed: { type: "string", default: "1" },
      "bad-rate": { type: "string", default: "0.01" },
      out: { type: "string" },
      stores: { type: "string", default: "5" },
      settlements: { type: "string", default: "true" },
      format: { type: "string", default: "csv" },
      force: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (!values.out) throw new OptionsError("--out DIR is required");
  const rows = integer("rows", values.rows, 1, 100_000_000);
  const badRate = Number(values["bad-rate"]);
  if (!Number.isFinite(badRate) || badRate < 0 || badRate > 0.2) throw new OptionsError(`--bad-rate must be a number from 0 to 0.2, got "${values["bad-rate"]}"`);
  if (values.settlements !== "true" && values.settlements !== "false") throw new OptionsError(`--settlements must be true or false`);
  if (values.format !== "csv" && values.format !== "xlsx") throw new OptionsError(`--format must be csv or xlsx, got "${values.format}"`);
  if (values.seed === "") throw new OptionsError("--seed must not be empty");
  return {
    rows,
    files: integer("files", values.files, 1, Math.min(rows, 9999)),
    seed: values.seed,
    badRate,
    out: values.out,
    stores: integer("stores", values.stores, 1, 6),
    settlements: values.settlements === "true",
    format: values.format,
    force: values.force,
  };
}
