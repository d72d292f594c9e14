/**
 * One import chunk's work: validate the records of its byte range (no I/O), then, in
 * the chunk's commit, write its orders or settlements, its row errors and what it
 * counted. Purchases and settlements differ only in how a row is validated and
 * written; the rest is the same path.
 */
import { sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import { PermanentChunkError } from "../jobs/types.js";
import { forEachChunkRow, mapHeader } from "./csv/index.js";
import { chunkCountsByFile, recordDryRunRows, writeReport } from "./file-status.js";
import type { ChunkPayload } from "./job-params.js";
import type { UpsertCounts, WriteReport } from "./model.js";
import { purchaseValidator, type RowProblem } from "./purchase-rows.js";
import { upsertPurchases } from "./purchases.js";
import { settlementValidator } from "./settlement-rows.js";
import { cellReference, excelRowOf } from "./xlsx/convert.js";
import { upsertSettlements } from "./settlements.js";

/** A chunk's records, validated, with how to write what passed. */
export interface ValidatedChunk {
  rowType: "orders" | "settlements";
  rows: number;
  /** Rejected rows. */
  errors: RowProblem[];
  /** Rows kept with a warning. */
  warnings: RowProblem[];
  /** Counters only this row type has (purchases: lines). */
  extra: Record<string, number>;
  write(db: Database, jobId: string, report: WriteReport): Promise<UpsertCounts>;
  /** The key a dry run keeps each row's outcome under (settlements are per store). */
  dryRunKey(key: string): string;
}

export async function validateChunk(
  bytes: Buffer,
  chunk: ChunkPayload,
  options: { jobSeq: number; lenientAmounts: boolean },
): Promise<ValidatedChunk> {
  const range = { startByte: chunk.start, endByte: chunk.end, firstLine: chunk.first_line, layout: chunk.layout };
  const columns = mapHeader(chunk.layout.header, chunk.layout.fileType);
  if (chunk.layout.fileType === "purchases") {
    const validator = purchaseValidator(columns, {
      jobSeq: options.jobSeq,
      filePosition: chunk.position,
      lenientAmounts: options.lenientAmounts,
      repeatedFromEarlierChunks: new Set(chunk.repeated),
    });
    await forEachChunkRow(bytes, range, validator.add, columns);
    const result = validator.finish();
    return {
      rowType: "orders",
      rows: result.rows,
      errors: result.errors,
      warnings: result.warnings,
      extra: { lines: result.orders.reduce((sum, order) => sum + order.lines.length, 0) },
      write: (db, jobId, report) => upsertPurchases(db, result.orders, jobId, report),
      dryRunKey: (key) => key,
    };
  }
  const storeId = chunk.store_id;
  if (storeId === null) throw new PermanentChunkError("settlement chunk without a store");
  const validator = settlementValidator(columns, { jobSeq: options.jobSeq, filePosition: chunk.position });
  await forEachChunkRow(bytes, range, validator.add, columns);
  const result = validator.finish();
  return {
    rowType: "settlements",
    rows: result.rows,
    errors: result.errors,
    warnings: [],
    extra: {},
    write: (db, jobId, report) => upsertSettlements(db, storeId, result.settlements, jobId, report),
    dryRunKey: (key) => `${storeId}:${key}`,
  };
}

/** The chunk's writes and what it counted, in its commit transaction. */
export async function commitImportChunk(
  tx: Database,
  at: { jobId: string; chunk: ChunkPayload; dryRun: boolean; fileIdAt: (position: number) => string | null },
  validated: ValidatedChunk,
): Promise<{ rowsDone: number; rowsFailed: number; counters: Record<string, number>; countsByKey: Record<string, Record<string, number>> }> {
  const report = writeReport(at.dryRun);
  const counts = await maybeDry(tx, at.dryRun, (db) => validated.write(db, at.jobId, report));
  await recordDryRunRows(tx, at.jobId, validated.rowType, report, validated.dryRunKey);
  await insertRowProblems(tx, at.jobId, at.chunk, [...validated.errors, ...validated.warnings]);
  const rejected = validated.errors.length;
  const counters = {
    rows: validated.rows,
    row_errors: rejected,
    warnings: validated.warnings.length,
    [`${validated.rowType}_inserted`]: counts.inserted,
    [`${validated.rowType}_updated`]: counts.updated,
    [`${validated.rowType}_unchanged`]: counts.unchanged,
    ...validated.extra,
  };
  return {
    rowsDone: validated.rows - rejected,
    rowsFailed: rejected,
    counters,
    countsByKey: chunkCountsByFile(at.chunk.file_id, counters, validated.rowType, report.takenBack, at.fileIdAt),
  };
}

/** A dry run does the writes in a savepoint and rolls them back: the counts are real, the data untouched. */
async function maybeDry(
  tx: Database,
  dryRun: boolean,
  write: (db: Database) => Promise<UpsertCounts>,
): Promise<UpsertCounts> {
  if (!dryRun) return write(tx);
  let counts: UpsertCounts = { inserted: 0, updated: 0, unchanged: 0 };
  try {
    await tx.transaction(async (savepoint) => {
      counts = await write(savepoint as unknown as Database);
      throw new DryRunRollback();
    });
  } catch (error) {
    if (!(error instanceof DryRunRollback)) throw error;
  }
  return counts;
}

class DryRunRollback extends Error {}

/** Where a row problem is: its line (a workbook's: Excel's row), and a workbook's sheet and cell. */
function placeOf(chunk: ChunkPayload, problem: RowProblem): { line: number; sheet: string | null; cell: string | null } {
  if (!chunk.sheet) return { line: problem.line, sheet: null, cell: null };
  const row = excelRowOf(problem.line, chunk.sheet.shifts);
  // The converted CSV keeps the sheet's columns in place: field k is column k.
  const column = problem.column === null ? -1 : chunk.layout.header.indexOf(problem.column);
  return { line: row, sheet: chunk.sheet.name, cell: cellReference(chunk.sheet.name, column < 0 ? null : column, row) };
}

async function insertRowProblems(db: Database, jobId: string, chunk: ChunkPayload, problems: RowProblem[]): Promise<void> {
  if (problems.length === 0) return;
  const p = (values: unknown[]) => sql.param(values);
  const places = problems.map((problem) => placeOf(chunk, problem));
  await queryRows(
    db,
    sql`insert into import_row_errors (job_id, file_id, line, "column", code, message, raw, sheet, cell)
        select ${jobId}::uuid, ${chunk.file_id}::uuid, * from unnest(
          ${p(places.map((e) => e.line))}::int[], ${p(problems.map((e) => e.column))}::text[],
          ${p(problems.map((e) => e.code))}::text[], ${p(problems.map((e) => e.message))}::text[],
          ${p(problems.map((e) => e.raw.slice(0, 10_000)))}::text[],
          ${p(places.map((e) => e.sheet))}::text[], ${p(places.map((e) => e.cell))}::text[]
        )`,
  );
}
