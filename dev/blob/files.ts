/**
 * Where the Blob stand-in keeps blobs: `<dataDir>/blobs/`
 *
 *   objects/<h>-<version>   the content (h = sha256 of the pathname, hex)
 *   objects/<h>.json        the metadata sidecar: pathname, size, etag, content type, …
 *   tmp/                    bodies being received (renamed into objects/ when complete)
 *   mpu/<upload id>/<n>     parts of multipart uploads in progress
 *
 * Files are named by a hash of the pathname, never by the pathname itself: no pathname
 * can reach outside the directory, and `a` and `a/b` can both exist (they would be a
 * file and a folder of the same name on disk). A replaced blob gets a new content file
 * and then a new sidecar, each written to a temporary name and renamed, so a reader
 * sees the old or the new blob, never half of one. The index lives in memory, loaded
 * at start: one process per directory (the dev server's data-directory lock sees to it
 * in embedded mode; local services mode gives the stand-in its own directory).
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { copyFile, type FileHandle, mkdir, open, readdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Transform, type TransformCallback } from "node:stream";
import { logger } from "../../lib/log/index.js";
import { BlobApiError } from "./tokens.js";

const log = logger("blob-standin");

export type BlobAccess = "public" | "private";

export interface BlobMeta {
  pathname: string;
  size: number;
  /** Quoted, like an HTTP ETag: a hash of the content. */
  etag: string;
  contentType: string;
  contentDisposition: string;
  cacheControlMaxAge: number;
  access: BlobAccess;
  /** ISO 8601. */
  uploadedAt: string;
  /** The content file's name inside objects/. */
  file: string;
}

/** A body received into tmp/, not yet a blob. */
export interface ReceivedBody {
  file: string;
  size: number;
  etag: string;
}

export type NewBlob = Omit<BlobMeta, "file" | "size" | "etag" | "uploadedAt">;

export class BlobFiles {
  private readonly index = new Map<string, BlobMeta>();
  private sorted: string[] | null = null;
  /** Commits run one at a time, so "does it exist" and "replace it" are one step. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(readonly root: string) {}

  static async open(root: string): Promise<BlobFiles> {
    const files = new BlobFiles(root);
    await mkdir(files.dir("objects"), { recursive: true });
    // Bodies and parts of a previous run cannot be finished: their requests are gone.
    await rm(files.dir("tmp"), { recursive: true, force: true });
    await rm(files.dir("mpu"), { recursive: true, force: true });
    await mkdir(files.dir("tmp"), { recursive: true });
    await mkdir(files.dir("mpu"), { recursive: true });
    await files.load();
    return files;
  }

  dir(name: "objects" | "tmp" | "mpu"): string {
    return path.join(this.root, name);
  }

  get(pathname: string): BlobMeta | undefined {
    return this.index.get(pathname);
  }

  /** Every pathname, sorted. */
  pathnames(): string[] {
    this.sorted ??= [...this.index.keys()].sort();
    return this.sorted;
  }

  contentPath(meta: BlobMeta): string {
    return path.join(this.dir("objects"), meta.file);
  }

  /**
   * Streams `source` into tmp/, hashing it, refusing more than `maxBytes`
   * (the message is the one the SDK turns into BlobFileTooLargeError).
   */
  async receive(source: Readable | AsyncIterable<Buffer>, maxBytes = Number.POSITIVE_INFINITY): Promise<ReceivedBody> {
    const file = path.join(this.dir("tmp"), randomBytes(12).toString("hex"));
    const hash = createHash("sha256");
    let size = 0;
    let tooLarge = false;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done: TransformCallback) {
        size += chunk.length;
        // Past the limit the rest is read and dropped, not refused mid-stream: an error
        // here would destroy the request, and the client would see a reset instead of
        // the answer that says why.
        if (tooLarge || size > maxBytes) {
          tooLarge = true;
          done();
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(file));
    } catch (error) {
      await rm(file, { force: true });
      throw error;
    }
    if (tooLarge) {
      await rm(file, { force: true });
      throw new BlobApiError(400, "bad_request", `the file length cannot be greater than ${maxBytes} bytes`);
    }
    return { file, size, etag: `"${hash.digest("hex").slice(0, 32)}"` };
  }

  /** The parts' files one after the other, as one stream (multipart complete). */
  static concatenate(files: readonly string[]): AsyncIterable<Buffer> {
    return (async function* () {
      for (const file of files) yield* createReadStream(file) as AsyncIterable<Buffer>;
    })();
  }

  /** A copy of an existing blob's content in tmp/. */
  async duplicate(meta: BlobMeta): Promise<ReceivedBody> {
    const file = path.join(this.dir("tmp"), randomBytes(12).toString("hex"));
    await copyFile(this.contentPath(meta), file);
    return { file, size: meta.size, etag: meta.etag };
  }

  /**
   * Makes a received body the blob `blob.pathname`, after `check(existing)` (run under
   * the commit lock) agrees. The previous content file is removed afterwards.
   */
  commit(blob: NewBlob, body: ReceivedBody, check: (existing: BlobMeta | undefined) => void): Promise<BlobMeta> {
    return this.exclusive(async () => {
      try {
        check(this.index.get(blob.pathname));
      } catch (error) {
        await rm(body.file, { force: true });
        throw error;
      }
      const id = pathId(blob.pathname);
      const meta: BlobMeta = {
        ...blob,
        size: body.size,
        etag: body.etag,
        uploadedAt: new Date().toISOString(),
        file: `${id}-${randomBytes(6).toString("hex")}`,
      };
      await rename(body.file, path.join(this.dir("objects"), meta.file));
      await this.writeSidecar(id, meta);
      const previous = this.index.get(blob.pathname);
      if (!previous) this.sorted = null;
      this.index.set(blob.pathname, meta);
      if (previous) await this.unlinkContent(previous);
      return meta;
    });
  }

  /** Removes a blob; false when there was none. `check` runs under the commit lock. */
  remove(pathname: string, check: (existing: BlobMeta) => void = () => undefined): Promise<boolean> {
    return this.exclusive(async () => {
      const meta = this.index.get(pathname);
      if (!meta) return false;
      check(meta);
      await rm(path.join(this.dir("objects"), `${pathId(pathname)}.json`), { force: true });
      this.index.delete(pathname);
      this.sorted = null;
      await this.unlinkContent(meta);
      return true;
    });
  }

  /**
   * A blob and its content file, opened. Once open, the bytes stay readable even if
   * the blob is replaced or deleted meanwhile (POSIX keeps an unlinked file for its
   * open handles). A replacement between the lookup and the open is looked up again.
   */
  async openContent(pathname: string): Promise<{ meta: BlobMeta; file: FileHandle } | null> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const meta = this.index.get(pathname);
      if (!meta) return null;
      try {
        return { meta, file: await open(this.contentPath(meta), "r") };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
    throw new Error(`blob ${JSON.stringify(pathname)} kept being replaced while it was opened`);
  }

  private async load(): Promise<void> {
    const names = await readdir(this.dir("objects"));
    const referenced = new Set<string>();
    for (const name of names.filter((n) => n.endsWith(".json"))) {
      const file = path.join(this.dir("objects"), name);
      let meta: BlobMeta;
      try {
        meta = JSON.parse(await readFile(file, "utf8")) as BlobMeta;
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        // Sidecars are renamed into place whole, so this is damage from outside: say so, skip it.
        log.warn("skipping an unreadable blob sidecar", { file, err: error });
        continue;
      }
      this.index.set(meta.pathname, meta);
      referenced.add(meta.file);
    }
    // Content files no sidecar points at: a replacement that stopped half way.
    for (const name of names) {
      if (!name.endsWith(".json") && !referenced.has(name)) await rm(path.join(this.dir("objects"), name), { force: true });
    }
  }

  private async writeSidecar(id: string, meta: BlobMeta): Promise<void> {
    const temp = path.join(this.dir("tmp"), `${id}.json.${randomBytes(6).toString("hex")}`);
    await writeFile(temp, JSON.stringify(meta));
    await rename(temp, path.join(this.dir("objects"), `${id}.json`));
  }

  private async unlinkContent(meta: BlobMeta): Promise<void> {
    try {
      await unlink(this.contentPath(meta));
    } catch (error) {
      // Open readers keep the old bytes (POSIX); a file already gone is what we wanted.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    // The chain only orders the work; each caller gets its own outcome through `run`.
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}

function pathId(pathname: string): string {
  return createHash("sha256").update(pathname).digest("hex");
}
