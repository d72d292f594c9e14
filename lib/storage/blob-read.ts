/**
 * The Blob adapter's reads (ObjectStore.read and readRange), whichever way they reach the
 * bytes (blob-read-modes.ts). The range asked for is checked first, then the answer: a
 * 206 must carry the requested Content-Range; a server that ignores Range (200, whole
 * object) is cut to the range here; 416 (start at or past the end) reads as empty.
 */
import { logger } from "../log/index.js";
import { type BlobReadMode, type RawRead, type RawReader, rawReader, type RawReaderSettings } from "./blob-read-modes.js";
import { TransientReadError, type WithRetries } from "./blob-retries.js";
import type { Sdk } from "./blob-sdk.js";
import { InvalidRangeError, ObjectNotFoundError, StorageError, StorageRefusedError } from "./errors.js";
import { validateObjectKey } from "./keys.js";
import type { ObjectStore, ReadOptions } from "./types.js";

/** Bytes `start` to `end` inclusive; a null end reads to the end of the object. */
interface ByteRange {
  start: number;
  end: number | null;
}

interface OpenedRead {
  stream: ReadableStream<Uint8Array>;
  /** Bytes the stream must yield, when the answer said so. */
  expectedLength: number | null;
}

type ReadOpener = (blob: Sdk, key: string, range: ByteRange | null, signal?: AbortSignal) => Promise<OpenedRead>;

export interface BlobReadSettings extends RawReaderSettings {
  mode: BlobReadMode;
  withRetries: WithRetries;
}

export type BlobReads = Pick<ObjectStore, "read" | "readRange">;

const log = logger("storage");

export function blobReads(settings: BlobReadSettings): BlobReads {
  const { withRetries } = settings;
  const open = readOpener(rawReader(settings.mode, settings));
  return {
    async readRange(key, start, endInclusive, options = {}) {
      validateObjectKey(key);
      const range = checkRange(start, endInclusive);
      if (range === null || range.end === null) throw new InvalidRangeError("readRange needs a start and an end.");
      const limit = range.end - range.start + 1;
      return withRetries("readRange", key, options.signal, async (blob) => {
        const opened = await open(blob, key, range, options.signal);
        const bytes = await collect(opened.stream, limit);
        if (opened.expectedLength !== null && bytes.length !== opened.expectedLength) {
          throw new TransientReadError(`reading ${JSON.stringify(key)} gave ${bytes.length} of ${opened.expectedLength} bytes`);
        }
        return bytes;
      });
    },

    async read(key, options: ReadOptions = {}) {
      validateObjectKey(key);
      const range = checkRange(options.start, options.end);
      return withRetries("read", key, options.signal, async (blob) => (await open(blob, key, range, options.signal)).stream);
    },
  };
}

/** The range a caller asked for, or null for the whole object. */
function checkRange(start: number | undefined, end: number | undefined): ByteRange | null {
  if (start === undefined && end === undefined) return null;
  const from = start ?? 0;
  if (!Number.isSafeInteger(from) || from < 0) {
    throw new InvalidRangeError(`A range must start at an integer ≥ 0 (got ${from}).`);
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || end < from)) {
    throw new InvalidRangeError(`A range must end at an integer ≥ its start ${from} (got ${end}).`);
  }
  return { start: from, end: end ?? null };
}

/** Opens reads through `fetchRaw`, each answer checked against the range asked for. */
function readOpener(fetchRaw: RawReader): ReadOpener {
  // Once per store: a server that ignores Range ignores it on every read.
  let warnedIgnoredRange = false;
  const warnIgnoredRange = (key: string) => {
    if (warnedIgnoredRange) return;
    warnedIgnoredRange = true;
    log.warn("blob storage ignored a Range header; reading whole objects and cutting them", { key });
  };
  return async (blob, key, range, signal) => {
    const raw = await fetchRaw(blob, key, rangeHeader(range), signal);
    if (raw.status === 416) {
      // The range starts at or past the end: nothing to read, as with a file.
      await discard(raw);
      return { stream: emptyStream(), expectedLength: 0 };
    }
    const body = bodyOrError(raw, key);
    if (body instanceof Error) {
      await discard(raw);
      throw body;
    }
    if (range === null) {
      const length = raw.headers?.get("content-length");
      return { stream: body, expectedLength: length ? Number(length) : null };
    }
    return rangeOfAnswer(raw, body, range, key, warnIgnoredRange);
  };
}

function rangeHeader(range: ByteRange | null): string | null {
  return range ? `bytes=${range.start}-${range.end ?? ""}` : null;
}

/** The bytes of `range` in a 200 or 206 answer to a request for them. */
async function rangeOfAnswer(
  raw: RawRead,
  body: ReadableStream<Uint8Array>,
  range: ByteRange,
  key: string,
  warnIgnoredRange: (key: string) => void,
): Promise<OpenedRead> {
  const answered = parseContentRange(raw.headers?.get("content-range") ?? null);
  if (answered) {
    if (answered.start !== range.start || (range.end !== null && answered.end > range.end)) {
      await discard(raw);
      throw new StorageError(
        "internal",
        `Blob storage answered bytes ${answered.start}-${answered.end} ` +
          `to a request for ${rangeHeader(range)} of ${JSON.stringify(key)}.`,
      );
    }
    return { stream: body, expectedLength: answered.end - answered.start + 1 };
  }
  // A 200 with the whole object: the server ignored Range, as HTTP allows. Cut it here.
  warnIgnoredRange(key);
  return {
    stream: sliceStream(body, range.start, range.end === null ? null : range.end - range.start + 1),
    expectedLength: null,
  };
}

/** The body of a 200 or 206, or the error any other answer (416 aside) means. */
function bodyOrError(raw: RawRead, key: string): ReadableStream<Uint8Array> | Error {
  if (raw.status === 404) return new ObjectNotFoundError(key);
  if (raw.status === 401 || raw.status === 403) {
    return new StorageRefusedError(
      `Blob storage refused to read ${JSON.stringify(key)} (${raw.status}): check BLOB_READ_WRITE_TOKEN.`,
    );
  }
  if (raw.status === 429 || raw.status >= 500) {
    return new TransientReadError(`reading ${JSON.stringify(key)} answered ${raw.status}`);
  }
  if ((raw.status !== 200 && raw.status !== 206) || raw.body === null) {
    return new StorageError("internal", `Blob storage answered ${raw.status} to a read of ${JSON.stringify(key)}.`);
  }
  return raw.body;
}

/** Lets go of a body that will not be read. */
async function discard(raw: RawRead): Promise<void> {
  await raw.body?.cancel().catch((error: unknown) => log.debug("discarding a body failed", { err: error }));
}

// ── streams ─────────────────────────────────────────────────────────────────

/** `bytes a-b/total` (or `a-b/*`); null when absent or unparseable. */
function parseContentRange(value: string | null): { start: number; end: number } | null {
  const match = value ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/i.exec(value.trim()) : null;
  if (!match) return null;
  return { start: Number(match[1]), end: Number(match[2]) };
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.close();
    },
  });
}

/** Bytes `skip` to `skip + take` of `source` (to its end when take is null). */
function sliceStream(source: ReadableStream<Uint8Array>, skip: number, take: number | null): ReadableStream<Uint8Array> {
  const stop = take === null ? Number.POSITIVE_INFINITY : skip + take;
  let position = 0;
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const from = Math.max(0, skip - position);
        const to = Math.min(chunk.length, stop - position);
        position += chunk.length;
        if (to > from) controller.enqueue(chunk.subarray(from, to));
        // Enough: closing here cancels the rest of the download.
        if (position >= stop) controller.terminate();
      },
    }),
  );
}

/** The whole stream as one buffer, refusing more than `limit` bytes. */
async function collect(stream: ReadableStream<Uint8Array>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel();
        throw new StorageError("internal", `Blob storage sent more than the ${limit} bytes asked for.`);
      }
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.length));
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks, size);
}
