/**
 * `dropflow errors <job>`: an import's row errors (GET /api/imports/:id/errors). One
 * page for people (or as JSON with --json); with --csv every one of them, the API's
 * streamed download written to stdout as it arrives.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { CommandContext } from "../context.js";
import { EXIT, type ExitCode } from "../exit-codes.js";
import { RowErrorPage } from "../responses.js";
import { rowErrorLine } from "../summaries.js";

export interface ErrorsArgs {
  jobId: string;
  csv: boolean;
  code?: string | undefined;
  /** A file id of the import (GET /api/imports/:id lists them). */
  file?: string | undefined;
  limit: number;
}

export async function errorsCommand(ctx: CommandContext, args: ErrorsArgs): Promise<ExitCode> {
  const { api, out } = ctx;
  const path = `/api/imports/${args.jobId}/errors`;
  const filter = { code: args.code, file: args.file };
  if (args.csv) {
    const body = await api.download(path, { ...filter, format: "csv" });
    await pipeline(Readable.fromWeb(body as WebReadableStream<Uint8Array>), out.streams.stdout, { end: false });
    return EXIT.done;
  }
  const page = await api.get(path, RowErrorPage, { ...filter, limit: args.limit });
  out.data(page);
  if (page.errors.length === 0) out.line("no row errors");
  out.lines(page.errors.map(rowErrorLine));
  if (page.next_cursor !== null) out.line(`more than ${args.limit}: dropflow errors ${args.jobId} --csv for all of them`);
  return EXIT.done;
}
