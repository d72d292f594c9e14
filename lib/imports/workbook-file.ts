/**
 * Planning a workbook (.xlsx) file: the upload is written to a temporary file (the zip
 * is read by random access), its sheet chosen and converted once into CSV, and that
 * CSV is planned exactly as an uploaded CSV is (planFileChunks), then stored beside the
 * upload for the chunks to read. From there on a workbook is a CSV file to the
 * pipeline: one validator, one writer, one set of counters. What stays different is
 * where a row error points: the sheet and cell (`Income!H57`), from the chunk's
 * `sheet` (import-chunk.ts).
 *
 * Memory: the shared strings are the one table held (bounded by
 * DROPFLOW_XLSX_MAX_SHARED_STRINGS_MB); the sheet streams through. Disk: the workbook
 * and its CSV in the function's temporary directory, removed before the planner goes on.
 */
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { type FileHandle, mkdtemp, open, readdir, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type FilePlan, type FileType, planFileChunks } from "./csv/index.js";
import { compoundFileRefusal, type Container } from "./xlsx/container.js";
import { chooseSheet, type RowShift, writeSheetCsv } from "./xlsx/convert.js";
import { WorkbookError, type WorkbookErrorCode } from "./xlsx/errors.js";
import { openWorkbook, type WorkbookLimits } from "./xlsx/workbook.js";
import { logger } from "../log/index.js";
import type { ObjectStore } from "../storage/types.js";

const log = logger("imports");

export interface WorkbookSource {
  sheet: string;
  /** The converted CSV in object storage: what the chunks read. */
  convertedKey: string;
  shifts: RowShift[];
}

const TEMP_PREFIX = "dropflow-xlsx-";
/**
 * Older than any planner can run (a function's maximum duration is minutes): a
 * directory this old was left by a process killed mid-conversion. A warm function
 * instance keeps its /tmp between invocations, so leftovers would fill it.
 */
const STALE_TEMP_MS = 60 * 60 * 1000;

export interface WorkbookPlanDeps {
  objects: () => ObjectStore;
  limits: WorkbookLimits;
}

/** The upload to plan as a workbook: what its first bytes are, where its CSV goes, how to read it. */
export interface WorkbookFile {
  container: Container;
  convertedKey: string;
  fileType: FileType;
  /** The sheet named by the request; null: the one whose header fits. */
  sheet: string | null;
  targetRows: number;
  signal: AbortSignal;
}

export type WorkbookPlan =
  | { plan: FilePlan; source: WorkbookSource }
  | { refused: { code: WorkbookErrorCode; message: string } };

export async function planWorkbookFile(
  deps: WorkbookPlanDeps,
  bytes: AsyncIterable<Uint8Array>,
  file: WorkbookFile,
): Promise<WorkbookPlan> {
  try {
    return await convertAndPlan(deps, bytes, file);
  } catch (error) {
    // A workbook too large for the temporary disk would fail the same way on every retry.
    if ((error as NodeJS.ErrnoException).code === "ENOSPC") {
      return {
        refused: {
          code: "workbook_too_large",
          message: "the workbook and the CSV of its sheet do not fit the function's temporary disk: split the workbook, or save the sheet as CSV UTF-8",
        },
      };
    }
    throw error;
  }
}

async function convertAndPlan(
  deps: WorkbookPlanDeps,
  bytes: AsyncIterable<Uint8Array>,
  file: WorkbookFile,
): Promise<WorkbookPlan> {
  await removeStaleTempDirs();
  const dir = await mkdtemp(path.join(os.tmpdir(), TEMP_PREFIX));
  try {
    const bookPath = path.join(dir, "book.xlsx");
    await pipeline(Readable.from(bytes), createWriteStream(bookPath), { signal: file.signal });
    if (file.container === "cfb") {
      const handle = await open(bookPath, "r");
      try {
        const refusal = await compoundFileRefusal(handle);
        return { refused: { code: refusal.code, message: refusal.message } };
      } finally {
        await handle.close();
      }
    }
    const csvPath = path.join(dir, "sheet.csv");
    const converted = await convertSheet(bookPath, csvPath, deps.limits, file);
    if ("refused" in converted) return converted;
    const plan = await planFileChunks(createReadStream(csvPath), { fileType: file.fileType, targetRows: file.targetRows, signal: file.signal });
    if (!plan.fileError) await storeConvertedCsv(deps.objects(), file.convertedKey, csvPath, file.signal);
    return { plan, source: { sheet: converted.sheet, convertedKey: file.convertedKey, shifts: converted.shifts } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function convertSheet(
  bookPath: string,
  csvPath: string,
  limits: WorkbookLimits,
  file: { fileType: FileType; sheet: string | null; signal: AbortSignal },
): Promise<{ sheet: string; shifts: RowShift[] } | { refused: { code: WorkbookErrorCode; message: string } }> {
  let workbook;
  try {
    workbook = await openWorkbook(bookPath, limits);
  } catch (error) {
    if (error instanceof WorkbookError) return { refused: { code: error.code, message: error.message } };
    throw error;
  }
  const out = createWriteStream(csvPath);
  // A write error (a full disk) is an event: kept here, so it is thrown, never unhandled.
  let writeError: Error | null = null;
  out.on("error", (error) => {
    writeError ??= error;
  });
  try {
    const chosen = await chooseSheet(workbook, file.fileType, file.sheet);
    const conversion = await writeSheetCsv(
      workbook,
      chosen,
      file.fileType,
      async (text) => {
        file.signal.throwIfAborted();
        if (writeError) throw writeError;
        if (!out.write(text)) await once(out, "drain");
      },
      { maxBytes: limits.maxPartBytes },
    );
    out.end();
    await once(out, "finish");
    if (writeError) throw writeError;
    return { sheet: chosen.sheet, shifts: conversion.shifts };
  } catch (error) {
    if (error instanceof WorkbookError) return { refused: { code: error.code, message: error.message } };
    throw error;
  } finally {
    out.destroy();
    workbook.close();
  }
}

/** Below this the converted CSV is put whole (and retried); from it up, in parts. */
const SMALL_CSV_BYTES = 16 * 1024 * 1024;
/**
 * Parts of the converted CSV in flight at once: the SDK's own multipart put keeps up to
 * 8 and buffers up to 128 MiB ahead of a slow connection, which with the shared strings
 * of the conversion would pass the planner's 256 MB (measured: +81 MB on a 112 MB CSV).
 */
const CSV_PARTS_IN_FLIGHT = 2;

async function storeConvertedCsv(objects: ObjectStore, key: string, csvPath: string, signal: AbortSignal): Promise<void> {
  // A planner that runs again (after a crash) converts again, to the same key.
  const options = { contentType: "text/csv; charset=utf-8", overwrite: true, signal };
  if ((await stat(csvPath)).size < SMALL_CSV_BYTES) {
    await objects.put(key, await readFile(csvPath), options);
    return;
  }
  const file = await open(csvPath, "r");
  try {
    await objects.put(key, fileStream(file), { ...options, partsInFlight: CSV_PARTS_IN_FLIGHT });
  } finally {
    await file.close();
  }
}

/**
 * The file as a stream read only when its reader pulls (Node 20's Readable.toWeb reads
 * ahead of a slow consumer), so the bounded upload holds no more than its parts.
 */
function fileStream(file: FileHandle): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const buffer = Buffer.allocUnsafe(1024 * 1024);
        const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) controller.close();
        else controller.enqueue(buffer.subarray(0, bytesRead));
      },
    },
    { highWaterMark: 0 },
  );
}

/** Removes what planners killed mid-conversion left in the temporary directory (best effort: a failure is only logged). */
async function removeStaleTempDirs(): Promise<void> {
  const root = os.tmpdir();
  const names = (await readdir(root)).filter((name) => name.startsWith(TEMP_PREFIX));
  for (const name of names) {
    const dir = path.join(root, name);
    try {
      if (Date.now() - (await stat(dir)).mtimeMs > STALE_TEMP_MS) await rm(dir, { recursive: true, force: true });
    } catch (error) {
      // Another planner removing the same leftover at the same moment is no problem.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") log.warn("could not remove a stale workbook directory", { dir, err: error });
    }
  }
}
