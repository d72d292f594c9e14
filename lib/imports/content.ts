/**
 * The same content twice in one import (equal SHA-256) is refused when the import is
 * created, with a 400 `duplicate_content`, wherever the hashes can be known then
 * without reading hundreds of MB inside the request:
 *
 * - a multipart part: hashed from the request's bytes (and recorded on `uploads`);
 * - a file uploaded through POST /api/uploads: the SHA-256 the upload-completed
 *   callback recorded on `uploads`, as long as it was taken of the object that is
 *   there now (same size, same etag);
 * - any other file (its callback has not arrived yet, or it reached storage some other
 *   way): streamed from storage and hashed here, HASH_CONCURRENCY at a time. Only files
 *   that could have a twin are read (equal content means equal size, and every size is
 *   known from head()), and only up to `budgetBytes` in all
 *   (DROPFLOW_IMPORT_HASH_BUDGET_BYTES), smallest first.
 *
 * What stays unknown is left to the planner, which hashes every file on its one read
 * anyway and fails a later twin as `duplicate_file` (lib/imports/kind.ts): the safety net.
 */
import { createHash } from "node:crypto";
import { inArray } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { uploads } from "../db/schema.js";
import { AppError, type FieldProblem } from "../errors.js";
import { logger } from "../log/index.js";
import type { ObjectStore } from "../storage/types.js";

/** Files streamed from storage at once while hashing in POST /api/imports. */
export const HASH_CONCURRENCY = 4;

const log = logger("imports");

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The object's SHA-256, streamed (never held in memory), and how many bytes were read. */
export async function hashObject(
  objects: ObjectStore,
  key: string,
  options: { signal?: AbortSignal } = {},
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  const reader = (await objects.read(key, options.signal ? { signal: options.signal } : {})).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      hash.update(value);
      bytes += value.byteLength;
    }
  } catch (error) {
    // Stop the download too; the read's own error is the one to report.
    await reader.cancel(error).catch((cancelError: unknown) => log.debug("cancelling a read failed", { key, err: cancelError }));
    throw error;
  }
  return { sha256: hash.digest("hex"), bytes };
}

export interface ContentToCheck {
  key: string;
  /** From head(): what the object is now. */
  size: number;
  etag: string;
  /** Already known (a multipart part, hashed from the request's bytes). */
  sha256?: string | null;
}

/**
 * Each file's SHA-256 where it can be known at create (see the top of this file), else
 * null, in the files' order. Never fails for want of a hash: a file that cannot be read
 * here is logged and left to the planner.
 */
export async function contentHashes(
  deps: { db: Database; objects: ObjectStore; budgetBytes: number; signal?: AbortSignal },
  files: readonly ContentToCheck[],
): Promise<Array<string | null>> {
  const hashes = files.map((file) => file.sha256 ?? null);

  const lookup = [...new Set(files.filter((_, i) => hashes[i] === null).map((file) => file.key))];
  if (lookup.length > 0) {
    const rows = await deps.db
      .select({ key: uploads.key, sha256: uploads.sha256, size: uploads.size, etag: uploads.etag })
      .from(uploads)
      .where(inArray(uploads.key, lookup));
    const recorded = new Map(rows.map((row) => [row.key, row]));
    files.forEach((file, i) => {
      const row = recorded.get(file.key);
      // Taken of this very object: uploads are no-overwrite, but a key written again
      // some other way has another etag, and then its old hash says nothing.
      if (hashes[i] === null && row?.sha256 && row.size === file.size && (row.etag === null || row.etag === file.etag)) {
        hashes[i] = row.sha256;
      }
    });
  }

  // Only a file of the same size as another can have its content.
  const sameSize = new Map<number, number>();
  for (const file of files) sameSize.set(file.size, (sameSize.get(file.size) ?? 0) + 1);
  const candidates = files
    .map((file, index) => ({ file, index }))
    .filter(({ file, index }) => hashes[index] === null && (sameSize.get(file.size) ?? 0) > 1)
    .sort((a, b) => a.file.size - b.file.size || a.index - b.index);
  const chosen: typeof candidates = [];
  let budgeted = 0;
  for (const candidate of candidates) {
    if (budgeted + candidate.file.size > deps.budgetBytes) break; // the rest are no smaller
    budgeted += candidate.file.size;
    chosen.push(candidate);
  }
  if (chosen.length === 0) {
    if (candidates.length > 0) log.info("content hashes left to the planner: over the budget", { files: candidates.length });
    return hashes;
  }

  const started = performance.now();
  await forEachBounded(chosen, HASH_CONCURRENCY, async ({ file, index }) => {
    try {
      const { sha256, bytes } = await hashObject(deps.objects, file.key, deps.signal ? { signal: deps.signal } : {});
      if (bytes !== file.size) {
        log.warn("an object changed while it was hashed; left to the planner", { key: file.key, size: file.size, bytes });
        return;
      }
      hashes[index] = sha256;
    } catch (error) {
      log.warn("could not hash a file at create; left to the planner", { key: file.key, err: error });
    }
  });
  log.info("hashed files at create", {
    files: chosen.length,
    bytes: budgeted,
    left_to_planner: candidates.length - chosen.length,
    duration_ms: Math.round(performance.now() - started),
  });
  return hashes;
}

/**
 * The 400 for an import that names the same content twice: one field per later copy
 * (`files.<i>`, as the other file-level problems of the request), the message naming
 * both files of each pair. Null when every known hash is distinct.
 */
export function duplicateContentError(names: readonly string[], hashes: ReadonlyArray<string | null>): AppError | null {
  const first = new Map<string, number>();
  const pairs: Array<{ earlier: number; later: number; sha256: string }> = [];
  hashes.forEach((sha256, later) => {
    if (sha256 === null) return;
    const earlier = first.get(sha256);
    if (earlier === undefined) first.set(sha256, later);
    else pairs.push({ earlier, later, sha256 });
  });
  if (pairs.length === 0) return null;
  const label = (i: number) => `files.${i} (${JSON.stringify(names[i] ?? "")})`;
  const fields: FieldProblem[] = pairs.map(({ earlier, later }) => ({
    field: `files.${later}`,
    location: "body",
    message: `the same content as ${label(earlier)}`,
  }));
  const sentences = pairs.map(
    ({ earlier, later, sha256 }) => `${label(later)} has the same content as ${label(earlier)} (sha256 ${sha256})`,
  );
  return new AppError(
    "duplicate_content",
    `The same content twice in one import: ${sentences.join("; ")}. Import each file once (a later import may take it again).`,
    { fields },
  );
}

async function forEachBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
