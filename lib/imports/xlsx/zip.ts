/**
 * The workbook's zip, read by random access (yauzl): Excel stores the shared strings
 * after the sheets, so one sequential pass over the bytes cannot resolve a sheet's
 * strings; the central directory says where each part is, and each part is inflated
 * as a stream when it is read.
 */
import type { Readable } from "node:stream";
import yauzl from "yauzl";
import { WorkbookError } from "./errors.js";

export interface WorkbookZip {
  has(part: string): boolean;
  /** One part's inflated bytes, as a stream. */
  open(part: string): Promise<Readable>;
  close(): void;
}

export async function openWorkbookZip(path: string): Promise<WorkbookZip> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (error, opened) =>
      error || !opened ? reject(new WorkbookError("not_a_workbook", `not an .xlsx workbook (${error?.message ?? "no zip"})`, { cause: error })) : resolve(opened),
    ),
  );
  const entries = new Map<string, yauzl.Entry>();
  await new Promise<void>((resolve, reject) => {
    zip.on("entry", (entry: yauzl.Entry) => {
      entries.set(entry.fileName, entry);
      zip.readEntry();
    });
    zip.on("end", () => resolve());
    zip.on("error", (error: Error) => reject(new WorkbookError("not_a_workbook", `not an .xlsx workbook (${error.message})`, { cause: error })));
    zip.readEntry();
  });
  return {
    has: (part) => entries.has(part),
    open: (part) => {
      const entry = entries.get(part);
      if (!entry) return Promise.reject(new WorkbookError("not_a_workbook", `the workbook has no part ${part}`));
      return new Promise<Readable>((resolve, reject) =>
        zip.openReadStream(entry, (error, stream) => (error || !stream ? reject(error ?? new Error("no stream")) : resolve(stream))),
      );
    },
    close: () => zip.close(),
  };
}
