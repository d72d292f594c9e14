/**
 * Output files: a buffered write stream that honours backpressure (a million rows
 * never pile up in memory behind a slow disk) and hashes and counts the bytes as
 * they go, so the summary's sha256 needs no second read.
 */
import { createHash, type Hash } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { once } from "node:events";

const FLUSH_AT = 256 * 1024;

export interface Written {
  bytes: number;
  sha256: string;
}

export class FileSink {
  private readonly stream: WriteStream;
  private readonly hash: Hash = createHash("sha256");
  private parts: string[] = [];
  private buffered = 0;
  private bytes = 0;
  private failure: Error | undefined;

  constructor(readonly path: string) {
    this.stream = createWriteStream(path);
    // Remember a write error and raise it on the next write or close, where the
    // generator's promise chain can carry it to the caller.
    this.stream.on("error", (error) => {
      this.failure = error;
    });
  }

  /** Buffers `text`; resolves at once unless a flush must wait for the disk. */
  async write(text: string): Promise<void> {
    this.parts.push(text);
    this.buffered += text.length;
    if (this.buffered >= FLUSH_AT) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.parts.length === 0) return;
    const chunk = Buffer.from(this.parts.join(""), "utf8");
    this.parts = [];
    this.buffered = 0;
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (!this.stream.write(chunk)) await once(this.stream, "drain");
  }

  async close(): Promise<Written> {
    await this.flush();
    this.stream.end();
    await once(this.stream, "finish");
    if (this.failure) throw this.failure;
    return { bytes: this.bytes, sha256: this.hash.digest("hex") };
  }
}

/**
 * One CSV field as Excel writes it: quoted when it holds the delimiter, a quote or a
 * line break (or always, for the exporters that quote everything); `"` doubles.
 * `\n` inside a value is written as the file's line ending.
 */
export function csvField(value: string, delimiter: string, eol: string, quoteAll = false): string {
  const needs = quoteAll || value.includes(delimiter) || value.includes('"') || value.includes("\n") || value.includes("\r");
  if (!needs) return value;
  const body = value.replace(/"/g, '""');
  return `"${eol === "\n" ? body : body.replace(/\n/g, eol)}"`;
}
