/**
 * The `import` job kind: the planner reads each uploaded file once and cuts it into
 * byte ranges at order boundaries; each chunk reads only its range, validates its
 * records, and writes its orders (or settlements), its row errors and its outcome
 * in one transaction. File-level failures fail that file only.
 */
import { createHash } from "node:crypto";
import { and, eq, ne, sql } from "drizzle-orm";
import { type Database, queryRows } from "../db/client.js";
import { importFiles, stores } from "../db/schema.js";
import { defineJobKind, type JobKind } from "../jobs/kind.js";
import { type JobRecord, PermanentChunkError } from "../jobs/types.js";
import type { Logger } from "../log/index.js";
import type { ObjectStore } from "../storage/types.js";
import { type ChunkLayout, forEachChunkRow, mapHeader, planFileChunks } from "./csv/index.js";
import { chunkCountsByFile, recordDryRunRows, settleImportFiles, writeReport } from "./file-status.js";
import { ChunkPayload, IMPORT_KIND, ImportParams } from "./job-params.js";
import type { UpsertCounts } from "./model.js";
import { purchaseValidator, type RowProblem } from "./purchase-rows.js";
import { upsertPurchases } from "./purchases.js";
import { settlementValidator } from "./settlement-rows.js";
import { upsertSettlements } from "./settlements.js";

export function createImportKind(deps: {
  objects: () => ObjectStore;
  chunkRows: () => number;
  /** After the final status and file statuses are written: queues the completion webhook. */
  onFinished?: (job: JobRecord, log: Logger) => Promise<void>;
}): JobKind {
  return defineJobKind({
    kind: IMPORT_KIND,
    params: ImportParams,
    payload: ChunkPayload,
    async plan({ job, params, db, signal, log }) {
      const chunks: Array<{ payload: ChunkPayload; rows: number }> = [];
      let failed = 0;
      const seenContent = new Map<string, string>();
      // Hashes known at create (recorded at upload, or hashed in the request).
      const recorded = new Map(
        (await db.select({ id: importFiles.id, sha256: importFiles.sha256 }).from(importFiles).where(eq(importFiles.jobId, job.id))).map(
          (row) => [row.id, row.sha256],
        ),
      );
      for (const file of [...params.files].sort((a, b) => a.position - b.position)) {
        const fail = async (code: string, message: string, sha256?: string) => {
          failed += 1;
          log.warn("file failed", { file: file.name, code, message });
          await db
            .update(importFiles)
            .set({ status: "failed", errorCode: code, errorMessage: message, ...(sha256 ? { sha256 } : {}), updatedAt: sql`now()` })
            .where(and(eq(importFiles.id, file.id), ne(importFiles.status, "cancelled")));
        };
        // The planner reads each file once; the content hash rides along on that read.
        const hash = createHash("sha256");
        const stream = (await deps.objects().read(file.key, { signal })).pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform(part, controller) {
              hash.update(part);
              controller.enqueue(part);
            },
          }),
        );
        const plan = await planFileChunks(stream, { kind: params.kind, targetRows: deps.chunkRows(), signal });
        if (plan.fileError) {
          await fail(plan.fileError.code, plan.fileError.message);
          continue;
        }
        const sha256 = hash.digest("hex");
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
        if (params.kind === "settlements") {
          const resolved = await resolveSettlementStore(db, storeId, plan.preamble?.username ?? null, { link: !params.dry_run });
          if ("error" in resolved) {
            await fail("unknown_store", resolved.error, sha256);
            continue;
          }
          storeId = resolved.storeId;
        }
        await db
          .update(importFiles)
          .set({ status: "running", sha256, counts: { rows: plan.totalRows }, updatedAt: sql`now()` })
          // A cancel may have settled the files while this planner read: it keeps them.
          .where(and(eq(importFiles.id, file.id), ne(importFiles.status, "cancelled")));
        for (const chunk of plan.chunks) {
          chunks.push({
            payload: {
              file_id: file.id,
              position: file.position,
              key: file.key,
              start: chunk.startByte,
              end: chunk.endByte,
              first_line: chunk.firstLine,
              store_id: storeId,
              repeated: chunk.repeatedKeys ?? [],
              layout: chunk.layout as ChunkLayout,
            },
            rows: chunk.rows,
          });
        }
      }
      if (failed === params.files.length) {
        throw new PermanentChunkError(`every file failed (${failed} of ${params.files.length}); see each file's error`);
      }
      return chunks;
    },

    async processChunk(ctx) {
      const { params, payload: chunk } = ctx;
      const fileIdAt = (position: number) => params.files.find((file) => file.position === position)?.id ?? null;
      const bytes =
        chunk.end > chunk.start
          ? await deps.objects().readRange(chunk.key, chunk.start, chunk.end - 1, { signal: ctx.signal })
          : Buffer.alloc(0);
      const range = { startByte: chunk.start, endByte: chunk.end, firstLine: chunk.first_line, layout: chunk.layout };
      const columns = mapHeader(chunk.layout.header, chunk.layout.kind);
      if (chunk.layout.kind === "purchases") {
        const validator = purchaseValidator(columns, {
          jobSeq: ctx.job.seq,
          filePosition: chunk.position,
          lenientAmounts: params.lenient_amounts,
          repeatedFromEarlierChunks: new Set(chunk.repeated),
        });
        await forEachChunkRow(bytes, range, validator.add, columns);
        const result = validator.finish();
        return ctx.commit(async (tx) => {
          const report = writeReport(params.dry_run);
          const counts = await maybeDry(tx, params.dry_run, (db) => upsertPurchases(db, result.orders, ctx.job.id, report));
          await recordDryRunRows(tx, ctx.job.id, "orders", report);
          await insertRowProblems(tx, ctx.job.id, chunk.file_id, [...result.errors, ...result.warnings]);
          const counters = work(result.rows, result.errors, result.warnings.length, {
            orders_inserted: counts.inserted,
            orders_updated: counts.updated,
            orders_unchanged: counts.unchanged,
            lines: result.orders.reduce((sum, order) => sum + order.lines.length, 0),
          });
          return { ...counters, countsByKey: chunkCountsByFile(chunk.file_id, counters.counters, "orders", report.takenBack, fileIdAt) };
        });
      }
      if (chunk.store_id === null) throw new PermanentChunkError("settlement chunk without a store");
      const storeId = chunk.store_id;
      const validator = settlementValidator(columns, {
        jobSeq: ctx.job.seq,
        filePosition: chunk.position,
      });
      await forEachChunkRow(bytes, range, validator.add, columns);
      const result = validator.finish();
      return ctx.commit(async (tx) => {
        const report = writeReport(params.dry_run);
        const counts = await maybeDry(tx, params.dry_run, (db) =>
          upsertSettlements(db, storeId, result.settlements, ctx.job.id, report),
        );
        await recordDryRunRows(tx, ctx.job.id, "settlements", report, (key) => `${storeId}:${key}`);
        await insertRowProblems(tx, ctx.job.id, chunk.file_id, result.errors);
        const counters = work(result.rows, result.errors, 0, {
          settlements_inserted: counts.inserted,
          settlements_updated: counts.updated,
          settlements_unchanged: counts.unchanged,
        });
        return {
          ...counters,
          countsByKey: chunkCountsByFile(chunk.file_id, counters.counters, "settlements", report.takenBack, fileIdAt),
        };
      });
    },

    async settle({ job, params, db, status, counters }) {
      // Committed with the job's status, so a poller never sees a finished import with
      // files still running.
      const { filesFailed, dryRunCounts } = await settleImportFiles(db, job.id, params, status);
      // A file refused at planning is an error of the import (docs/job-engine.md), even
      // when every chunk of the other files went through.
      return {
        status: status === "completed" && filesFailed > 0 ? "completed_with_errors" : status,
        counters: { ...counters, ...dryRunCounts, files_failed: filesFailed },
      };
    },

    async afterFinalise({ job, log }) {
      // After the file statuses, so the webhook's summary sees them; lib/imports/webhook.ts
      // decides, builds and signs.
      await deps.onFinished?.(job, log);
    },
  });
}

function work(
  rows: number,
  errors: RowProblem[],
  warnings: number,
  counters: Record<string, number>,
): { rowsDone: number; rowsFailed: number; counters: Record<string, number> } {
  const rejectedRows = errors.length;
  return {
    rowsDone: rows - rejectedRows,
    rowsFailed: rejectedRows,
    counters: { rows, row_errors: rejectedRows, warnings, ...counters },
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

async function insertRowProblems(db: Database, jobId: string, fileId: string, problems: RowProblem[]): Promise<void> {
  if (problems.length === 0) return;
  const p = (values: unknown[]) => sql.param(values);
  await queryRows(
    db,
    sql`insert into import_row_errors (job_id, file_id, line, "column", code, message, raw)
        select ${jobId}::uuid, ${fileId}::uuid, * from unnest(
          ${p(problems.map((e) => e.line))}::int[], ${p(problems.map((e) => e.column))}::text[],
          ${p(problems.map((e) => e.code))}::text[], ${p(problems.map((e) => e.message))}::text[],
          ${p(problems.map((e) => e.raw.slice(0, 10_000)))}::text[]
        )`,
  );
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
