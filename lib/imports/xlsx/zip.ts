/**
 * The workbook's zip, read by random access (yauzl): Excel stores the shared strings
 * after the sheets, so one sequential pass over the bytes cannot resolve a sheet's
 * strings; the central directory says where each part is, and each part is inflated
 * as a stream when it is read.
 *
 * Zip bombs: a part is refused before it is inflated when the size its header declares
 * passes `maxPartBytes`, or `maxRatio` times its compressed size; yauzl checks while
 * inflating that a part never yields more than it declared, so a header that lies is
 * caught too (inflateError() turns that into the same refusal).
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

export interface ZipLimits {
  /** A part may inflate to at most this many bytes. */
  maxPartBytes: number;
  /** ...and to at most this many times its compressed size (parts under 1 MiB aside: tiny parts compress without bound). */
  maxRatio: number;
}

/** Parts this small are never refused for their ratio. */
const RATIO_FLOOR_BYTES = 1024 * 1024;

export async function openWorkbookZip(path: string, limits: ZipLimits): Promise<WorkbookZip> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (error, opened) =>
      error || !opened
        ? reject(new WorkbookError("not_a_workbook", `not an .xlsx workbook: the zip cannot be read (${error?.message ?? "no zip"})`, { cause: error }))
        : resolve(opened),
    ),
  );
  const entries = new Map<string, yauzl.Entry>();
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on("entry", (entry: yauzl.Entry) => {
        entries.set(entry.fileName, entry);
        zip.readEntry();
      });
      zip.on("end", () => resolve());
      zip.on("error", (error: Error) =>
        reject(new WorkbookError("not_a_workbook", `not an .xlsx workbook: the zip cannot be read (${error.message})`, { cause: error })),
      );
      zip.readEntry();
    });
  } catch (error) {
    zip.close();
    throw error;
  }
  return {
    has: (part) => entries.has(part),
    open: (part) => {
      const entry = entries.get(part);
      if (!entry) return Promise.reject(new WorkbookError("not_a_workbook", `the workbook has no part ${part}`));
      const refusal = partRefusal(entry, limits);
      if (refusal) return Promise.reject(refusal);
      return new Promise<Readable>((resolve, reject) =>
        zip.openReadStream(entry, (error, stream) => (error || !stream ? reject(inflateError(part, error ?? new Error("no stream"))) : resolve(stream))),
      );
    },
    close: () => zip.close(),
  };
}

function partRefusal(entry: yauzl.Entry, limits: ZipLimits): WorkbookError | null {
  if (entry.isEncrypted()) {
    return new WorkbookError("encrypted_workbook", `the workbook's part ${entry.fileName} is encrypted: save the workbook without a password`);
  }
  const declared = entry.uncompressedSize;
  if (declared > limits.maxPartBytes) {
    return new WorkbookError(
      "workbook_too_large",
      `the workbook's part ${entry.fileName} inflates to ${declared} bytes, past the limit of ${limits.maxPartBytes} (DROPFLOW_XLSX_MAX_PART_MB)`,
    );
  }
  const ratio = declared / Math.max(1, entry.compressedSize);
  if (declared > RATIO_FLOOR_BYTES && ratio > limits.maxRatio) {
    return new WorkbookError(
      "workbook_too_large",
      `the workbook's part ${entry.fileName} inflates ${Math.round(ratio)} times (${entry.compressedSize} to ${declared} bytes), ` +
        `past the limit of ${limits.maxRatio} (DROPFLOW_XLSX_MAX_RATIO): a zip bomb, or not a workbook Excel wrote`,
    );
  }
  return null;
}

/** An error met while inflating a part, as the refusal it stands for. */
export function inflateError(part: string, error: unknown): WorkbookError {
  if (error instanceof WorkbookError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/too many bytes/i.test(message)) {
    return new WorkbookError("workbook_too_large", `the workbook's part ${part} inflates past the size its zip header declares (a zip bomb)`, {
      cause: error,
    });
  }
  return new WorkbookError("not_a_workbook", `the workbook's part ${part} cannot be inflated (${message}): a damaged file?`, { cause: error });
}
