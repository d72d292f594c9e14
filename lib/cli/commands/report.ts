/**
 * `dropflow report margin [--group month|store|sku] [--store] [--from] [--to]`: the
 * margin report (GET /api/reports/margin) as a table, as JSON with --json, or the
 * API's CSV download with --csv.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { CommandContext } from "../context.js";
import { EXIT, type ExitCode } from "../exit-codes.js";
import { MarginReport } from "../responses.js";
import { marginTable } from "../summaries.js";

export interface MarginArgs {
  group: string;
  store?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  csv: boolean;
}

export async function marginCommand(ctx: CommandContext, args: MarginArgs): Promise<ExitCode> {
  const { api, out } = ctx;
  const query = { group: args.group, store: args.store, from: args.from, to: args.to };
  if (args.csv) {
    const body = await api.download("/api/reports/margin", { ...query, format: "csv" });
    await pipeline(Readable.fromWeb(body as WebReadableStream<Uint8Array>), out.streams.stdout, { end: false });
    return EXIT.done;
  }
  const report = await api.get("/api/reports/margin", MarginReport, query);
  out.data(report);
  out.lines(marginTable(report));
  return EXIT.done;
}
