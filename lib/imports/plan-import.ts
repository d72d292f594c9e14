/**
 * Planning an import: each file is read once, its content hashed on that read, cut
 * into chunks at order boundaries, and given its status. A file that cannot be read
 * (not CSV, a twin of an earlier file, a seller with no store) fails alone; the
 * import fails only when every file does.
 */
import { createHash } from "node:crypto";
import { and, eq, ne, sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import { importFiles, stores } from "../db/schema.js";
import { type JobRecord, PermanentChunkError, type PlannedChunk } from "../jobs/types.js";
import type { Logger } from "../log/index.js";
import type { ObjectStore } from "../storage/types.js";
import { type ChunkLayout, type FilePlan, planFileChunks } from "./csv/index.js";
import type { ChunkPayload, ImportParams } from "./job-params.js";
import type { FileFailureCode } from "./file-status.js";
import { planWorkbookFile, type WorkbookSource } from "./workbook-file.js";
import { containerOf } from "./xlsx/container.js";
import { excelRowOf, shiftsWithin } from "./xlsx/convert.js";
import type { WorkbookLimits } from "./xlsx/workbook.js";
import { IMPORTS_PREFIX } from "../storage/keys.js";

type ImportFile = ImportParams["files"][number];

export interface ImportPlanDeps {
  objects: () => ObjectStore;
  chunkRows: () => number;
  workbookLimits: () => WorkbookLimits;
}

export async function planImport(
  deps: ImportPlanDeps,
  { job, params, db, signal, log }: { job: JobRecord; params: ImportParams; db: Database; signal: AbortSignal; log: Logger },
): Promise<Array<PlannedChunk<ChunkPayload>>> {
  const chunks: Array<PlannedChunk<ChunkPayload>> = [];
  let failed = 0;
  const seenContent = new Map<string, string>();
  const recorded = await recordedHashes(db, job.id);
  for (const file of [...params.files].sort((a, b) => a.position - b.position)) {
    const fail = async (code: FileFailureCode, message: string, sha256?: string) => {
      failed += 1;
      log.warn("file failed", { file: file.name, code, message });
      await markFileFailed(db, file.id, code, message, sha256);
    };
    const read = await readAndPlanFile(deps, db, file, params.file_type, signal, job.id);
    if ("refused" in read) {
      await fail(read.refused.code, read.refused.message);
      continue;
    }
    const { plan, sha256, source } = read;
    if (plan.fileError) {
      await fail(plan.fileError.code, source ? workbookMessage(plan.fileError.message, source) : plan.fileError.message);
      continue;
    }
    const twin = seenContent.get(sha256);
    if (twin) {
      await fail("duplicate_file", `it has the same content as ${twin}, earlier in this import (sha256 ${sha256})`);
      continue;
    }
    seenContent.set(sha256, file.name);
    const before = recorded.get(file.id);
    if (before && before !== sha256) {
      // Client uploads never overwrite, so only a key written some other way gets here;
      // the planner's own hash (and its duplicate check) is what the import goes by.
      log.warn("file content changed since the import was created", { file: file.name, recorded: before, read: sha256 });
    }
    let storeId = params.store_id;
    if (params.file_type === "settlements") {
      const resolved = await resolveSettlementStore(db, storeId, plan.preamble?.username ?? null, { link: !params.dry_run });
      if ("error" in resolved) {
        await fail("unknown_store", resolved.error, sha256);
        continue;
      }
      storeId = resolved.storeId;
    }
    await markFileRunning(db, file.id, sha256, plan.totalRows, source);
    plan.chunks.forEach((chunk, k) => chunks.push(chunkOfFile(file, chunk, storeId, source, plan.chunks[k + 1]?.firstLine ?? null)));
  }
  if (failed === params.files.length) {
    throw new PermanentChunkError(`every file failed (${failed} of ${params.files.length}); see each file's error`);
  }
  return chunks;
}

/** Hashes known at create (recorded at upload, or hashed in the request), by file id. */
async function recordedHashes(db: Database, jobId: string): Promise<Map<string, string | null>> {
  const rows = await db.select({ id: importFiles.id, sha256: importFiles.sha256 }).from(importFiles).where(eq(importFiles.jobId, jobId));
  return new Map(rows.map((row) => [row.id, row.sha256]));
}

type FileRead =
  | { plan: FilePlan; sha256: string; source: WorkbookSource | null }
  | { refused: { code: FileFailureCode; message: string } };

/**
 * The planner reads each file once; the content hash rides along on that read. A
 * workbook (its first bytes say so) is converted to CSV on that read and the CSV
 * planned (workbook-file.ts); anything else is planned as CSV.
 */
async function readAndPlanFile(
  deps: ImportPlanDeps,
  db: Database,
  file: ImportFile,
  fileType: ImportParams["file_type"],
  signal: AbortSignal,
  jobId: string,
): Promise<FileRead> {
  const hash = createHash("sha256");
  const stream = (await deps.objects().read(file.key, { signal })).pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(part, controller) {
        hash.update(part);
        controller.enqueue(part);
      },
    }),
  );
  const { head, bytes } = await peek(stream, 8);
  const container = containerOf(head);
  if (!container) {
    const plan = await planFileChunks(bytes, { fileType, targetRows: deps.chunkRows(), signal });
    return { plan, sha256: hash.digest("hex"), source: null };
  }
  const convertedKey = `${IMPORTS_PREFIX}converted/${jobId}/${file.id}.csv`;
  // Recorded before the CSV is stored, so a cancel or a crash in between never leaves an
  // object (buyers' details) that retention and DELETE .../files do not know of.
  await db.update(importFiles).set({ convertedKey, updatedAt: sql`now()` }).where(eq(importFiles.id, file.id));
  const workbook = await planWorkbookFile({ objects: deps.objects, limits: deps.workbookLimits() }, bytes, {
    container,
    convertedKey,
    fileType,
    sheet: file.sheet,
    targetRows: deps.chunkRows(),
    signal,
  });
  if ("refused" in workbook) return workbook;
  return { plan: workbook.plan, sha256: hash.digest("hex"), source: workbook.source };
}

/** The stream's first `size` bytes (or fewer, if it is shorter), and all of its bytes, those included. */
async function peek(stream: ReadableStream<Uint8Array>, size: number): Promise<{ head: Uint8Array; bytes: AsyncIterable<Uint8Array> }> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let length = 0;
  let done = false;
  while (length < size && !done) {
    const next = await reader.read();
    if (next.done) done = true;
    else {
      parts.push(next.value);
      length += next.value.length;
    }
  }
  async function* all(): AsyncGenerator<Uint8Array> {
    try {
      yield* parts;
      while (!done) {
        const next = await reader.read();
        if (next.done) done = true;
        else yield next.value;
      }
    } finally {
      if (!done) await reader.cancel();
      reader.releaseLock();
    }
  }
  return { head: Buffer.concat(parts), bytes: all() };
}

/**
 * A file error of the converted CSV, said of the workbook's sheet: its "line N" is row
 * N of the sheet (mapped through the shifts, which before the data are none).
 */
function workbookMessage(message: string, source: WorkbookSource): string {
  const rows = message.replace(/\b([Ll])ine (\d+)/g, (_, l: string, line: string) => `${l === "L" ? "Row" : "row"} ${excelRowOf(Number(line), source.shifts)}`);
  return `Sheet "${source.sheet}": ${rows}`;
}

function chunkOfFile(
  file: ImportFile,
  chunk: FilePlan["chunks"][number],
  storeId: number | null,
  source: WorkbookSource | null,
  nextFirstLine: number | null,
): PlannedChunk<ChunkPayload> {
  return {
    payload: {
      file_id: file.id,
      position: file.position,
      key: source ? source.convertedKey : file.key,
      sheet: source ? { name: source.sheet, shifts: shiftsWithin(source.shifts, chunk.firstLine, nextFirstLine) } : null,
      start: chunk.startByte,
      end: chunk.endByte,
      first_line: chunk.firstLine,
      store_id: storeId,
      repeated: chunk.repeatedKeys ?? [],
      layout: chunk.layout as ChunkLayout,
    },
    rows: chunk.rows,
  };
}

// A cancel may have settled the files while the planner read: a file it settled keeps its status.

async function markFileFailed(db: Database, fileId: string, code: FileFailureCode, message: string, sha256?: string): Promise<void> {
  await db
    .update(importFiles)
    .set({ status: "failed", errorCode: code, errorMessage: message, ...(sha256 ? { sha256 } : {}), updatedAt: sql`now()` })
    .where(and(eq(importFiles.id, fileId), ne(importFiles.status, "cancelled")));
}

async function markFileRunning(db: Database, fileId: string, sha256: string, rows: number, source: WorkbookSource | null): Promise<void> {
  await db
    .update(importFiles)
    .set({
      status: "running",
      sha256,
      counts: { rows },
      ...(source ? { sheet: source.sheet } : {}),
      updatedAt: sql`now()`,
    })
    .where(and(eq(importFiles.id, fileId), ne(importFiles.status, "cancelled")));
}

/**
 * A settlement report names its seller by username, not by store: the request's
 * store wins (and the username is linked to it); without one, a linked username
 * finds its store.
 */
async function resolveSettlementStore(
  db: Database,
  storeId: number | null,
  username: string | null,
  /** False in a dry run, which changes no data. */
  options: { link: boolean },
): Promise<{ storeId: number } | { error: string }> {
  if (storeId !== null) {
    if (username && options.link) {
      await db
        .update(stores)
        .set({ marketplaceUsernames: sql`array_append(${stores.marketplaceUsernames}, ${username})` })
        .where(sql`${stores.id} = ${storeId} and not (${username} = any(${stores.marketplaceUsernames}))`);
    }
    return { storeId };
  }
  if (!username) return { error: "the report names no seller and the import names no store" };
  const [row] = await queryRows<{ id: number }>(
    db,
    sql`select id from stores where ${username} = any(marketplace_usernames) order by id limit 1`,
  );
  return row
    ? { storeId: row.id }
    : { error: `seller "${username}" is not linked to a store yet: name the store in the import` };
}
