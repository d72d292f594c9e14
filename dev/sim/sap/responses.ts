/** Answers and request bodies: the Service Layer's JSON error shape and the Apache gateway pages. */
import type { IncomingMessage, ServerResponse } from "node:http";

export const MAX_BODY_BYTES = 1024 * 1024;
/** Past the limit a body is still drained (so the client reads the 413) up to this much, then the socket is cut. */
const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;

export class BodyTooLarge extends Error {
  override name = "BodyTooLarge";
}

/** The body as text; over `limit` bytes a BodyTooLarge (after draining what the client still sends). */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > DRAIN_LIMIT_BYTES) {
        req.destroy();
        return;
      }
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      if (!tooLarge) chunks.push(chunk);
    });
    req.once("end", () => {
      if (tooLarge) reject(new BodyTooLarge(`the body exceeds ${limit} bytes`));
      else resolve(Buffer.concat(chunks).toString("utf8"));
    });
    req.once("close", () => {
      if (!req.complete) reject(new BodyTooLarge(`the body exceeds ${limit} bytes or was cut short`));
    });
    req.once("error", reject);
  });
}

export function send(res: ServerResponse, status: number, contentType: string | null, body: string, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const all: Record<string, string | string[] | number> = { ...headers, "content-length": Buffer.byteLength(body) };
  if (contentType !== null) all["content-type"] = contentType;
  res.writeHead(status, all);
  res.end(body);
}

export const JSON_TYPE = "application/json;odata=minimalmetadata;charset=utf-8";

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  send(res, status, JSON_TYPE, JSON.stringify(body), headers);
}

export function sendPlainJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(body));
}

export function sendText(res: ServerResponse, status: number, body: string, contentType = "text/plain;charset=utf-8"): void {
  send(res, status, contentType, body);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string | string[]> = {}): void {
  send(res, status, null, "", headers);
}

export function slErrorBody(code: number, message: string): unknown {
  return { error: { code, message: { lang: "en-us", value: message } } };
}

export function sendSlError(res: ServerResponse, status: number, code: number, message: string): void {
  sendJson(res, status, slErrorBody(code, message));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const APACHE_FOOTER = "<hr>\n<address>Apache/2.4.58 (Linux/SUSE) Server at sl.local Port 50000</address>\n";

/** Apache's mod_proxy page when a backend node answered badly (B1SLayer #78). */
export function proxyErrorPage(method: string, path: string): string {
  const target = escapeHtml(`${method} ${path}`).replace(" ", "&nbsp;");
  return (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>502 Proxy Error</title>\n</head><body>\n' +
    "<h1>Proxy Error</h1>\n<p>The proxy server received an invalid\nresponse from an upstream server.<br />\n" +
    `The proxy server could not handle the request <em><a href="${escapeHtml(path)}">${target}</a></em>.<p>\n` +
    "Reason: <strong>Error reading from remote server</strong></p></p>\n" +
    APACHE_FOOTER +
    "</body></html>\n"
  );
}

export function serviceUnavailablePage(): string {
  return (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>503 Service Unavailable</title>\n</head><body>\n' +
    "<h1>Service Unavailable</h1>\n<p>The server is temporarily unable to service your\nrequest due to maintenance downtime or capacity\nproblems. Please try again later.</p>\n" +
    APACHE_FOOTER +
    "</body></html>\n"
  );
}

export function gatewayTimeoutPage(method: string, path: string): string {
  return (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>504 Gateway Timeout</title>\n</head><body>\n' +
    "<h1>Gateway Timeout</h1>\n<p>The gateway did not receive a timely response\nfrom the upstream server or application.</p>\n" +
    `<p>While serving <em>${escapeHtml(`${method} ${path}`)}</em>.</p>\n` +
    APACHE_FOOTER +
    "</body></html>\n"
  );
}

/** What a stale node answered instead of a number ($count garbage, docs/local-services.md). */
export function countGarbagePage(): string {
  return "<!DOCTYPE html>\n<html><head><title>SAP Business One Service Layer</title></head>\n<body><p>Service Layer is starting. Please wait.</p></body></html>\n";
}

export const HTML = "text/html; charset=iso-8859-1";
