/**
 * The `import` job kind: the planner reads each uploaded file once and cuts it into
 * byte ranges at order boundaries (plan-import.ts); each chunk reads only its range,
 * validates its records, and writes its orders (or settlements), its row errors and
 * its outcome in one transaction (import-chunk.ts). File-level failures fail that
 * file only; at the end, each file gets its status and counts (file-status.ts).
 */
import type { Database } from "../db/client.js";
import { defineJobKind, type JobKind } from "../jobs/kind.js";
import type { JobRecord } from "../jobs/types.js";
import type { Logger } from "../log/index.js";
import type { ObjectStore } from "../storage/types.js";
import { settleImportFiles } from "./file-status.js";
import { commitImportChunk, validateChunk } from "./import-chunk.js";
import { ChunkPayload, IMPORT_KIND, ImportParams } from "./job-params.js";
import { planImport } from "./plan-import.js";
import type { WorkbookLimits } from "./xlsx/workbook.js";

export function createImportKind(deps: {
  objects: () => ObjectStore;
  chunkRows: () => number;
  workbookLimits: () => WorkbookLimits;
  /** After the final status and file statuses are written: queues the completion webhook. */
  onFinished?: (job: JobRecord, log: Logger) => Promise<void>;
  /** After the final status, for an import that asked for it: starts the reconcile run over what it landed. */
  reconcileAfter?: (ctx: { job: JobRecord; db: Database; counters: Record<string, number>; log: Logger }) => Promise<void>;
}): JobKind {
  return defineJobKind({
    kind: IMPORT_KIND,
    params: ImportParams,
    payload: ChunkPayload,
    plan: (ctx) => planImport(deps, ctx),

    async processChunk(ctx) {
      const { params, payload: chunk } = ctx;
      const bytes =
        chunk.end > chunk.start
          ? await deps.objects().readRange(chunk.key, chunk.start, chunk.end - 1, { signal: ctx.signal })
          : Buffer.alloc(0);
      const validated = await validateChunk(bytes, chunk, { jobSeq: ctx.job.seq, lenientAmounts: params.lenient_amounts });
      const fileIdAt = (position: number) => params.files.find((file) => file.position === position)?.id ?? null;
      return ctx.commit((tx) => commitImportChunk(tx, { jobId: ctx.job.id, chunk, dryRun: params.dry_run, fileIdAt }, validated));
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

    async afterFinalise({ job, params, db, counters, log }) {
      try {
        if (params.reconcile && !params.dry_run) await deps.reconcileAfter?.({ job, db, counters, log });
      } finally {
        // After the file statuses, so the webhook's summary sees them; lib/imports/webhook.ts
        // decides, builds and signs.
        await deps.onFinished?.(job, log);
      }
    },
  });
}
