/** Small HTTP helpers the simulators share: bounded bodies and JSON answers. */
import type { IncomingMessage, ServerResponse } from "node:http";

/** Control and API bodies are small; anything over this is refused with 413. */
export const MAX_BODY_BYTES = 1024 * 1024;
/**
 * An oversized body is still read (and dropped) up to this much, so that the 413 reaches
 * a client that is still uploading instead of a reset connection; beyond it, the
 * connection is closed after the answer.
 */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

export class BodyTooLarge extends Error {
  override name = "BodyTooLarge";

  constructor(
    message: string,
    /** The whole body was read: the connection may be kept. */
    readonly drained: boolean,
  ) {
    super(message);
  }
}

/** The whole body, or BodyTooLarge once it passes `limit`. */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const message = `the body exceeds ${limit} bytes`;
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > MAX_DRAIN_BYTES) {
      reject(new BodyTooLarge(message, false));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      outcome();
    };
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_DRAIN_BYTES) {
        req.pause();
        settle(() => reject(new BodyTooLarge(message, false)));
      } else if (size <= limit) {
        chunks.push(chunk);
      }
    });
    req.once("end", () =>
      settle(() => (size > limit ? reject(new BodyTooLarge(message, true)) : resolve(Buffer.concat(chunks)))),
    );
    req.once("error", (error) => settle(() => reject(error)));
    req.once("close", () => settle(() => reject(new Error("the client closed the connection before sending the whole body"))));
  });
}

/** Writes a JSON answer unless the client is gone. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) });
  res.end(text);
}

/** The 413 for a BodyTooLarge; a body left unread means the connection cannot be reused. */
export function sendTooLarge(res: ServerResponse, error: BodyTooLarge, body: unknown): void {
  sendJson(res, 413, body, error.drained ? {} : { connection: "close" });
}
