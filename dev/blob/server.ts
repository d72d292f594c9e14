/**
 * A local Vercel-Blob-compatible server: the subset of the Blob API that @vercel/blob
 * 2.8 uses (measured against the SDK: docs/local-services.md), so the real SDK, pointed here
 * by VERCEL_BLOB_API_URL, runs unchanged. Used by `npm run dev` (embedded), local
 * services mode and the tests; production talks to Vercel through the same SDK.
 *
 *   PUT  /?pathname=P                 put (body = bytes); with &fromUrl=F: copy F to P
 *   POST /mpu?pathname=P              multipart: x-mpu-action create | upload | complete
 *   GET  /?url=U                      head (U a blob URL or a pathname)
 *   GET  /?limit&prefix&cursor&mode   list
 *   POST /delete                      del, body {"urls":[…]}
 *   GET|HEAD /blobs/<pathname>        the bytes, with Range (206, exact Content-Range)
 *
 * Every API call needs `Authorization: Bearer` with the read-write token, or (put and
 * multipart only) a client token, checked as Vercel does: its HMAC with the rw token,
 * validUntil, pathname, allowed content types and maximum size. After a client upload
 * the signed `blob.upload-completed` callback goes to the token's callbackUrl. A
 * private blob's bytes need the rw token, which is what the SDK's get() sends.
 * Errors are `{ error: { code, message } }` with the codes and messages the SDK maps
 * to its error classes. Not implemented (answered 400 bad_request): rename, put from a
 * URL, image optimisation, presigned URLs and signed tokens.
 *
 *   tsx dev/blob/server.ts --data-dir D [--token T] [--port 0] [--host 127.0.0.1]
 * prints VERCEL_BLOB_API_URL=… and BLOB_READ_WRITE_TOKEN=…; blobs live in D/blobs.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { constantTimeEqual } from "../../lib/auth/bearer.js";
import { logger } from "../../lib/log/index.js";
import { listenOn } from "../servers/listen.js";
import { type BlobAccess, BlobFiles, type BlobMeta, type ReceivedBody } from "./files.js";
import {
  BlobApiError,
  type ClientTokenClaims,
  CLIENT_TOKEN_PREFIX,
  contentTypeAllowed,
  newReadWriteToken,
  signedCallback,
  storeIdOf,
  verifyClientToken,
} from "./tokens.js";

export { newReadWriteToken } from "./tokens.js";

const log = logger("blob-standin");

/** The SDK's own limit on pathnames. */
const MAX_PATHNAME_LENGTH = 950;
const DEFAULT_CACHE_MAX_AGE = 30 * 24 * 60 * 60;
const LIST_LIMIT = 1000;
/** Waits before the 2nd and 3rd try of an upload-completed callback. */
const CALLBACK_RETRY_DELAYS_MS = [250, 1_000];
const CALLBACK_TIMEOUT_MS = 10_000;

const CONTENT_TYPES: Record<string, string> = {
  csv: "text/csv",
  tsv: "text/tab-separated-values",
  txt: "text/plain",
  json: "application/json",
  xml: "application/xml",
  html: "text/html",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  xls: "application/vnd.ms-excel",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
};

export interface BlobServerOptions {
  /** Blobs live in `<dataDir>/blobs`. */
  dataDir: string;
  /** The read-write token (BLOB_READ_WRITE_TOKEN): vercel_blob_rw_<storeId>_<secret>. */
  token: string;
  /** 0 (the default) picks a free port; avoid fetch's "bad ports" (6000, 6665-6669, …). */
  port?: number;
  host?: string;
}

export interface CallbackRecord {
  url: string;
  pathname: string;
  state: "pending" | "delivered" | "failed";
  attempts: number;
  /** The last answer's status, or null when there was none (network error). */
  lastStatus: number | null;
  error?: string;
}

export interface BlobServerStats {
  /** Every HTTP request received, API and reads. */
  requests: number;
  reads: number;
  /** Requests answered with an error status (failNext included). */
  errors: number;
}

export interface BlobServer {
  /** The value for VERCEL_BLOB_API_URL. */
  url: string;
  port: number;
  token: string;
  storeId: string;
  /** Where blobs are stored (`<dataDir>/blobs`). */
  directory: string;
  stats(): BlobServerStats;
  /**
   * The next `count` requests (any route) fail with `status` (503 service_unavailable,
   * 500 internal_server_error, 429 rate_limited: all of them retryable); 0 cancels.
   */
  failNext(count: number, status?: 500 | 503 | 429): void;
  /**
   * The next `count` API calls are carried out, but answered 503 as if the answer had
   * been lost on the way back (a retry then finds its own earlier write); 0 cancels.
   */
  loseNextAnswers(count: number): void;
  /** Answer reads with the whole blob (200), ignoring Range, as HTTP allows a server to. */
  ignoreRanges(on: boolean): void;
  /** Upload-completed callbacks sent or being sent, oldest first. */
  callbacks(): CallbackRecord[];
  /** Resolves once no callback is pending; rejects after `timeoutMs`. */
  idle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

type Caller = { role: "rw" } | { role: "client"; claims: ClientTokenClaims };

/** What a put or a multipart upload will create, decided before the body is read. */
interface UploadPlan {
  pathname: string;
  access: BlobAccess;
  contentType: string;
  cacheControlMaxAge: number;
  allowOverwrite: boolean;
  ifMatch: string | undefined;
  maxBytes: number;
  claims: ClientTokenClaims | null;
}

interface MultipartUpload {
  plan: UploadPlan;
  key: string;
  /** The pathname the client sends on every call (before any random suffix). */
  requested: string;
  parts: Map<number, { file: string; etag: string; size: number }>;
}

const ERROR_CODES: Record<number, string> = {
  500: "internal_server_error",
  503: "service_unavailable",
  429: "rate_limited",
};

export async function startBlobServer(options: BlobServerOptions): Promise<BlobServer> {
  const storeId = storeIdOf(options.token);
  const directory = path.join(options.dataDir, "blobs");
  await mkdir(directory, { recursive: true });
  const files = await BlobFiles.open(directory);
  const uploads = new Map<string, MultipartUpload>();
  const callbackRecords: CallbackRecord[] = [];
  const pending = new Set<Promise<void>>();
  const counters: BlobServerStats = { requests: 0, reads: 0, errors: 0 };
  let failure = { count: 0, status: 503 };
  let rangesIgnored = false;
  let answersToLose = 0;
  let baseUrl = "";

  const blobUrl = (pathname: string) => `${baseUrl}/blobs/${pathname.split("/").map(encodeURIComponent).join("/")}`;

  function putResult(meta: BlobMeta): Record<string, string> {
    const url = blobUrl(meta.pathname);
    return {
      url,
      downloadUrl: `${url}?download=1`,
      pathname: meta.pathname,
      contentType: meta.contentType,
      contentDisposition: meta.contentDisposition,
      etag: meta.etag,
    };
  }

  function headResult(meta: BlobMeta) {
    const url = blobUrl(meta.pathname);
    return {
      url,
      downloadUrl: `${url}?download=1`,
      pathname: meta.pathname,
      size: meta.size,
      contentType: meta.contentType,
      contentDisposition: meta.contentDisposition,
      cacheControl: cacheControl(meta),
      uploadedAt: meta.uploadedAt,
      etag: meta.etag,
    };
  }

  function authenticate(req: IncomingMessage): Caller {
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    if (!match) throw new BlobApiError(401, "forbidden", "Access denied: no token.");
    const bearer = match[1] as string;
    const claimedStore = req.headers["x-vercel-blob-store-id"];
    if (typeof claimedStore === "string" && claimedStore !== "" && claimedStore !== storeId) {
      throw new BlobApiError(404, "store_not_found", "This store does not exist.");
    }
    if (bearer.startsWith(CLIENT_TOKEN_PREFIX)) {
      return { role: "client", claims: verifyClientToken(bearer, options.token, storeId) };
    }
    if (!constantTimeEqual(bearer, options.token)) throw new BlobApiError(401, "forbidden", "Access denied: invalid token.");
    return { role: "rw" };
  }

  function requireReadWrite(caller: Caller): void {
    if (caller.role !== "rw") {
      throw new BlobApiError(
        403,
        "client_token_not_allowed",
        "This operation is not available when using a client token. Use a read-write token on the server.",
      );
    }
  }

  /** The blob a put or multipart create will make, from the headers (rw) or the token (client). */
  function planUpload(req: IncomingMessage, requested: string, caller: Caller): UploadPlan {
    checkPathname(requested);
    const access = header(req, "x-vercel-blob-access");
    if (access !== "public" && access !== "private") {
      throw new BlobApiError(400, "bad_request", 'x-vercel-blob-access must be "public" or "private"');
    }
    const contentType = header(req, "x-content-type") ?? inferContentType(requested);
    if (caller.role === "client") {
      const { claims } = caller;
      if (claims.pathname !== requested) {
        throw new BlobApiError(
          400,
          "bad_request",
          `The "pathname" ${JSON.stringify(requested)} does not match the token payload ${JSON.stringify(claims.pathname)}`,
        );
      }
      if (!contentTypeAllowed(contentType, claims.allowedContentTypes)) {
        throw new BlobApiError(400, "bad_request", `contentType ${JSON.stringify(contentType)} is not allowed`);
      }
      return {
        pathname: claims.addRandomSuffix ? withRandomSuffix(requested) : requested,
        access,
        contentType,
        cacheControlMaxAge: claims.cacheControlMaxAge ?? DEFAULT_CACHE_MAX_AGE,
        allowOverwrite: claims.allowOverwrite ?? false,
        ifMatch: claims.ifMatch,
        maxBytes: claims.maximumSizeInBytes ?? Number.POSITIVE_INFINITY,
        claims,
      };
    }
    const maxAge = header(req, "x-cache-control-max-age");
    const ifMatch = header(req, "x-if-match");
    return {
      pathname: header(req, "x-add-random-suffix") === "1" ? withRandomSuffix(requested) : requested,
      access,
      contentType,
      cacheControlMaxAge: maxAge === undefined ? DEFAULT_CACHE_MAX_AGE : nonNegativeInteger(maxAge, "x-cache-control-max-age"),
      allowOverwrite: header(req, "x-allow-overwrite") === "1" || ifMatch !== undefined,
      ifMatch,
      maxBytes: Number.POSITIVE_INFINITY,
      claims: null,
    };
  }

  /** Refuses early what the commit would refuse, so a doomed body is not stored first. */
  function checkOverwrite(plan: UploadPlan, existing: BlobMeta | undefined): void {
    if (plan.ifMatch !== undefined && (!existing || !sameEtag(existing.etag, plan.ifMatch))) {
      throw new BlobApiError(412, "precondition_failed", "Precondition failed: ETag mismatch.");
    }
    if (existing && !plan.allowOverwrite) {
      throw new BlobApiError(400, "bad_request", "This blob already exists");
    }
  }

  async function commitUpload(plan: UploadPlan, body: ReceivedBody): Promise<BlobMeta> {
    const meta = await files.commit(
      {
        pathname: plan.pathname,
        access: plan.access,
        contentType: plan.contentType,
        contentDisposition: disposition(plan.pathname, plan.access),
        cacheControlMaxAge: plan.cacheControlMaxAge,
      },
      body,
      (existing) => checkOverwrite(plan, existing),
    );
    if (plan.claims?.onUploadCompleted) {
      sendCallback(plan.claims.onUploadCompleted.callbackUrl, meta, plan.claims.onUploadCompleted.tokenPayload ?? null);
    }
    return meta;
  }

  function sendCallback(url: string, meta: BlobMeta, tokenPayload: string | null): void {
    const record: CallbackRecord = { url, pathname: meta.pathname, state: "pending", attempts: 0, lastStatus: null };
    callbackRecords.push(record);
    if (callbackRecords.length > 1000) callbackRecords.splice(0, callbackRecords.length - 1000);
    const { body, signature } = signedCallback(options.token, putResult(meta), tokenPayload);
    const delivery = (async () => {
      for (let attempt = 0; attempt <= CALLBACK_RETRY_DELAYS_MS.length; attempt += 1) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, CALLBACK_RETRY_DELAYS_MS[attempt - 1]));
        record.attempts += 1;
        try {
          const response = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json", "x-vercel-signature": signature },
            body,
            signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS),
          });
          record.lastStatus = response.status;
          await response.body?.cancel();
          if (response.ok) {
            record.state = "delivered";
            return;
          }
          record.error = `answered ${response.status}`;
        } catch (error) {
          record.lastStatus = null;
          record.error = error instanceof Error ? error.message : String(error);
        }
      }
      record.state = "failed";
      log.warn("upload-completed callback was not accepted", {
        url,
        pathname: meta.pathname,
        attempts: record.attempts,
        error: record.error,
      });
    })();
    pending.add(delivery);
    void delivery.finally(() => pending.delete(delivery));
  }

  // ── routes ────────────────────────────────────────────────────────────────

  async function put(req: IncomingMessage, res: ServerResponse, query: URLSearchParams, caller: Caller) {
    const requested = query.get("pathname") ?? "";
    const plan = planUpload(req, requested, caller);
    const declared = Number(req.headers["content-length"] ?? Number.NaN);
    if (Number.isFinite(declared) && declared > plan.maxBytes) {
      throw new BlobApiError(400, "bad_request", `the file length cannot be greater than ${plan.maxBytes} bytes`);
    }
    checkOverwrite(plan, files.get(plan.pathname));
    const body = await files.receive(req, plan.maxBytes);
    answer(res, 200, putResult(await commitUpload(plan, body)));
  }

  async function copy(req: IncomingMessage, res: ServerResponse, query: URLSearchParams, caller: Caller) {
    requireReadWrite(caller);
    const source = files.get(pathnameOf(query.get("fromUrl") ?? ""));
    if (!source) throw new BlobApiError(404, "not_found", "The requested blob does not exist");
    const plan = planUpload(req, query.get("pathname") ?? "", caller);
    if (header(req, "x-content-type") === undefined) plan.contentType = source.contentType;
    checkOverwrite(plan, files.get(plan.pathname));
    answer(res, 200, putResult(await commitUpload(plan, await files.duplicate(source))));
  }

  async function multipart(req: IncomingMessage, res: ServerResponse, query: URLSearchParams, caller: Caller) {
    const requested = query.get("pathname") ?? "";
    const action = header(req, "x-mpu-action");
    if (action === "create") {
      const plan = planUpload(req, requested, caller);
      checkOverwrite(plan, files.get(plan.pathname));
      req.resume();
      const uploadId = randomBytes(16).toString("hex");
      const key = `${uploadId}/${plan.pathname}`;
      uploads.set(uploadId, { plan, key, requested, parts: new Map() });
      await mkdir(path.join(files.dir("mpu"), uploadId), { recursive: true });
      answer(res, 200, { key, uploadId });
      return;
    }
    const uploadId = header(req, "x-mpu-upload-id") ?? "";
    const upload = uploads.get(uploadId);
    if (!upload || decodeURIComponent(header(req, "x-mpu-key") ?? "") !== upload.key || upload.requested !== requested) {
      throw new BlobApiError(404, "not_found", "No multipart upload with this id, key and pathname");
    }
    // The same token (or one for the same pathname) must carry every part.
    if (caller.role === "client" && caller.claims.pathname !== upload.requested) {
      throw new BlobApiError(400, "bad_request", `The "pathname" does not match the token payload`);
    }
    if (action === "upload") {
      const partNumber = Number(header(req, "x-mpu-part-number"));
      if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) {
        throw new BlobApiError(400, "bad_request", "x-mpu-part-number must be an integer from 1 to 10000");
      }
      const others = [...upload.parts.entries()].filter(([n]) => n !== partNumber).reduce((sum, [, p]) => sum + p.size, 0);
      const body = await files.receive(req, upload.plan.maxBytes - others);
      const file = path.join(files.dir("mpu"), uploadId, String(partNumber));
      await rm(file, { force: true });
      await rename(body.file, file);
      upload.parts.set(partNumber, { file, etag: body.etag, size: body.size });
      answer(res, 200, { etag: body.etag });
      return;
    }
    if (action === "complete") {
      // The SDK lists parts in the order their uploads finished, not by number: sort.
      const list = parsePartList(await readSmallBody(req)).sort((a, b) => a.partNumber - b.partNumber);
      const chosen = list.map(({ partNumber, etag }, index) => {
        const part = upload.parts.get(partNumber);
        if (!part || !sameEtag(part.etag, etag)) {
          throw new BlobApiError(400, "bad_request", `part ${partNumber} was not uploaded with etag ${etag}`);
        }
        if (index > 0 && partNumber === list[index - 1]?.partNumber) {
          throw new BlobApiError(400, "bad_request", `part ${partNumber} is listed twice`);
        }
        return part;
      });
      const body = await files.receive(
        BlobFiles.concatenate(chosen.map((part) => part.file)) as AsyncIterable<Buffer>,
        upload.plan.maxBytes,
      );
      const meta = await commitUpload(upload.plan, body);
      uploads.delete(uploadId);
      await rm(path.join(files.dir("mpu"), uploadId), { recursive: true, force: true });
      answer(res, 200, putResult(meta));
      return;
    }
    throw new BlobApiError(400, "bad_request", "x-mpu-action must be create, upload or complete");
  }

  function head(res: ServerResponse, query: URLSearchParams, caller: Caller) {
    requireReadWrite(caller);
    const meta = files.get(pathnameOf(query.get("url") ?? ""));
    if (!meta) throw new BlobApiError(404, "not_found", "The requested blob does not exist");
    answer(res, 200, headResult(meta));
  }

  function list(res: ServerResponse, query: URLSearchParams, caller: Caller) {
    requireReadWrite(caller);
    const limit = query.has("limit") ? Number(query.get("limit")) : LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > LIST_LIMIT) {
      throw new BlobApiError(400, "bad_request", `limit must be an integer from 1 to ${LIST_LIMIT}`);
    }
    const prefix = query.get("prefix") ?? "";
    const folded = query.get("mode") === "folded";
    const cursor = query.get("cursor");
    const after = cursor ? Buffer.from(cursor, "base64url").toString("utf8") : null;
    // Entries in name order: blobs, and in folded mode the folders directly under prefix.
    const entries: Array<{ name: string; meta: BlobMeta | null }> = [];
    const seenFolders = new Set<string>();
    for (const pathname of files.pathnames()) {
      if (!pathname.startsWith(prefix)) continue;
      const slash = folded ? pathname.indexOf("/", prefix.length) : -1;
      if (slash === -1) {
        entries.push({ name: pathname, meta: files.get(pathname) ?? null });
      } else {
        const folder = pathname.slice(0, slash + 1);
        if (!seenFolders.has(folder)) {
          seenFolders.add(folder);
          entries.push({ name: folder, meta: null });
        }
      }
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const start = after === null ? 0 : entries.findIndex((entry) => entry.name > after);
    const page = start === -1 ? [] : entries.slice(start, start + limit);
    const hasMore = start !== -1 && start + limit < entries.length;
    const last = page[page.length - 1];
    const blobs = page.flatMap((entry) =>
      entry.meta
        ? [
            {
              url: blobUrl(entry.meta.pathname),
              downloadUrl: `${blobUrl(entry.meta.pathname)}?download=1`,
              pathname: entry.meta.pathname,
              size: entry.meta.size,
              uploadedAt: entry.meta.uploadedAt,
              etag: entry.meta.etag,
            },
          ]
        : [],
    );
    answer(res, 200, {
      blobs,
      cursor: hasMore && last ? Buffer.from(last.name, "utf8").toString("base64url") : undefined,
      hasMore,
      ...(folded ? { folders: page.filter((entry) => entry.meta === null).map((entry) => entry.name) } : {}),
    });
  }

  async function remove(req: IncomingMessage, res: ServerResponse, caller: Caller) {
    requireReadWrite(caller);
    let parsed: unknown;
    try {
      parsed = JSON.parse((await readSmallBody(req)).toString("utf8"));
    } catch (error) {
      if (error instanceof SyntaxError) throw new BlobApiError(400, "bad_request", "the body must be JSON");
      throw error;
    }
    const urls = (parsed as { urls?: unknown } | null)?.urls;
    if (!Array.isArray(urls) || !urls.every((url) => typeof url === "string")) {
      throw new BlobApiError(400, "bad_request", 'the body must be {"urls": [url or pathname, …]}');
    }
    const ifMatch = header(req, "x-if-match");
    for (const url of urls as string[]) {
      await files.remove(pathnameOf(url), (existing) => {
        if (ifMatch !== undefined && !sameEtag(existing.etag, ifMatch)) {
          throw new BlobApiError(412, "precondition_failed", "Precondition failed: ETag mismatch.");
        }
      });
    }
    answer(res, 200, {});
  }

  /** GET|HEAD /blobs/<pathname>: the bytes, for the rw token (private) or anyone (public). */
  async function serve(req: IncomingMessage, res: ServerResponse, rawPath: string, query: URLSearchParams) {
    counters.reads += 1;
    let pathname: string;
    try {
      pathname = rawPath.split("/").map(decodeURIComponent).join("/");
    } catch (error) {
      if (error instanceof URIError) throw new BlobApiError(400, "bad_request", "the blob path is not valid percent-encoding");
      throw error;
    }
    let authorized = false;
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    if (bearer) authorized = constantTimeEqual(bearer[1] as string, options.token);
    const opened = await files.openContent(pathname);
    if (opened === null) {
      // Without the token, a missing blob and a private one look the same.
      if (!authorized) throw new BlobApiError(403, "forbidden", "Access denied, please provide a valid token for this resource.");
      throw new BlobApiError(404, "not_found", "The requested blob does not exist");
    }
    const { meta, file } = opened;
    let streaming = false;
    try {
      if (!authorized && meta.access === "private") {
        throw new BlobApiError(403, "forbidden", "Access denied, please provide a valid token for this resource.");
      }
      const headers: Record<string, string | number> = {
        "content-type": meta.contentType,
        etag: meta.etag,
        "last-modified": new Date(meta.uploadedAt).toUTCString(),
        "accept-ranges": "bytes",
        "cache-control": cacheControl(meta),
        "content-disposition": query.get("download") === "1" ? disposition(meta.pathname, "private") : meta.contentDisposition,
      };
      const ifNoneMatch = header(req, "if-none-match");
      if (ifNoneMatch !== undefined && sameEtag(meta.etag, ifNoneMatch)) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      const range = rangesIgnored ? null : parseRange(header(req, "range"), meta.size);
      if (range === "unsatisfiable") {
        res.writeHead(416, { ...headers, "content-range": `bytes */${meta.size}`, "content-length": 0 });
        res.end();
        return;
      }
      const length = range ? range.end - range.start + 1 : meta.size;
      res.writeHead(range ? 206 : 200, {
        ...headers,
        "content-length": length,
        ...(range ? { "content-range": `bytes ${range.start}-${range.end}/${meta.size}` } : {}),
      });
      if (req.method === "HEAD" || length === 0) {
        res.end();
        return;
      }
      // The handle was opened before the headers were written: these are the bytes they describe.
      const stream = file.createReadStream(range ?? {});
      streaming = true;
      stream.on("error", (error) => {
        log.error("reading a blob failed mid-answer", { err: error, pathname: meta.pathname });
        res.destroy(error);
      });
      // A client that goes away mid-body (a cancelled read) must not leave the handle
      // open until garbage collection: destroying the stream closes it.
      res.on("close", () => stream.destroy());
      stream.pipe(res);
    } finally {
      // The stream closes the handle when it ends; every other way out closes it here.
      if (!streaming) await file.close();
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    counters.requests += 1;
    const raw = req.url ?? "/";
    const queryAt = raw.indexOf("?");
    const route = queryAt === -1 ? raw : raw.slice(0, queryAt);
    const query = new URLSearchParams(queryAt === -1 ? "" : raw.slice(queryAt + 1));
    if (failure.count > 0) {
      failure.count -= 1;
      const code = ERROR_CODES[failure.status] ?? "internal_server_error";
      throw new BlobApiError(failure.status, code, "failing on purpose (failNext)");
    }
    if ((req.method === "GET" || req.method === "HEAD") && route.startsWith("/blobs/")) {
      req.resume();
      await serve(req, res, route.slice("/blobs/".length), query);
      return;
    }
    const caller = authenticate(req);
    if (answersToLose > 0) {
      answersToLose -= 1;
      try {
        await dispatch(req, discardingResponse(), route, query, caller);
      } catch (error) {
        // Whatever the answer was, it is the one lost.
        log.debug("lost the answer to a failed call on purpose", { err: error });
      }
      throw new BlobApiError(503, "service_unavailable", "the answer was lost on purpose (loseNextAnswers)");
    }
    await dispatch(req, res, route, query, caller);
  }

  async function dispatch(req: IncomingMessage, res: ServerResponse, route: string, query: URLSearchParams, caller: Caller) {
    if (route === "/" && req.method === "PUT") {
      if (query.has("fromUrl")) await copy(req, res, query, caller);
      else await put(req, res, query, caller);
      return;
    }
    if (route === "/" && req.method === "GET") {
      req.resume();
      if (query.has("url")) head(res, query, caller);
      else list(res, query, caller);
      return;
    }
    if (route === "/mpu" && req.method === "POST") {
      await multipart(req, res, query, caller);
      return;
    }
    if (route === "/delete" && req.method === "POST") {
      await remove(req, res, caller);
      return;
    }
    throw new BlobApiError(400, "bad_request", `${req.method} ${route} is not part of the Blob stand-in`);
  }

  async function fail(req: IncomingMessage, res: ServerResponse, error: unknown): Promise<void> {
    counters.errors += 1;
    // Refused before its body was read: take the rest of the body first. Answering
    // and closing while the client still sends makes it see a reset, not the answer.
    if (!req.readableEnded && !req.destroyed) {
      await new Promise<void>((resolve) => {
        req.once("end", resolve).once("close", resolve);
        req.resume();
      });
    }
    if (error instanceof BlobApiError) {
      answer(res, error.status, { error: { code: error.code, message: error.message } });
      return;
    }
    log.error("the Blob stand-in failed on a request", { err: error, path: (req.url ?? "").split("?")[0] });
    // An unknown code: the SDK retries it like Vercel's own 5xx.
    answer(res, 500, { error: { code: "internal_server_error", message: "internal error in the Blob stand-in" } });
  }

  const server = createServer((req, res) => {
    // Browsers send client uploads straight to the Blob API (the dashboard does), from
    // the app's origin: Vercel's API takes them from pages on any site, and so does the
    // stand-in. A bearer header, never a cookie, carries the credentials.
    res.setHeader("access-control-allow-origin", "*");
    res.setHeader("access-control-expose-headers", "retry-after");
    if (req.method === "OPTIONS") {
      answerPreflight(req, res);
      return;
    }
    handle(req, res)
      .catch((error: unknown) => fail(req, res, error))
      .catch((error: unknown) => {
        log.error("the Blob stand-in could not answer", { err: error });
        res.destroy();
      });
  });
  server.on("clientError", (error, socket) => {
    log.debug("bad request on the Blob stand-in", { err: error });
    socket.destroy();
  });
  const host = options.host ?? "127.0.0.1";
  const port = await listenOn(server, options.port ?? 0, host);
  server.on("error", (error) => log.error("the Blob stand-in server failed", { err: error }));
  const hostForClients = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  baseUrl = `http://${hostForClients.includes(":") ? `[${hostForClients}]` : hostForClients}:${port}`;

  let closing: Promise<void> | null = null;
  return {
    url: baseUrl,
    port,
    token: options.token,
    storeId,
    directory,
    stats: () => ({ ...counters }),
    failNext(count, status = 503) {
      failure = { count, status };
    },
    loseNextAnswers(count) {
      answersToLose = count;
    },
    ignoreRanges(on) {
      rangesIgnored = on;
    },
    callbacks: () => callbackRecords.map((record) => ({ ...record })),
    async idle(timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (pending.size > 0) {
        if (Date.now() > until) {
          throw new Error(`${pending.size} upload-completed callback(s) still pending after ${timeoutMs} ms`);
        }
        await Promise.race([Promise.allSettled([...pending]), new Promise((resolve) => setTimeout(resolve, 50))]);
      }
    },
    close: () => {
      closing ??= (async () => {
        await new Promise<void>((resolve, reject) => {
          server.close((error) => (error ? reject(error) : resolve()));
          server.closeAllConnections();
        });
        // Callbacks in flight finish (or give up) before the caller goes on.
        await Promise.allSettled([...pending]);
      })();
      return closing;
    },
  };
}

// ── helpers ─────────────────────────────────────────────────────────────────

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" ? value : Array.isArray(value) ? value[0] : undefined;
}

function checkPathname(pathname: string): void {
  if (pathname === "") throw new BlobApiError(400, "bad_request", "pathname is required");
  if (pathname.length > MAX_PATHNAME_LENGTH) {
    throw new BlobApiError(400, "bad_request", `pathname is too long, maximum length is ${MAX_PATHNAME_LENGTH}`);
  }
  if (pathname.includes("//")) throw new BlobApiError(400, "bad_request", 'pathname cannot contain "//"');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(pathname)) {
    throw new BlobApiError(400, "bad_request", "pathname cannot contain control characters");
  }
}

/** A blob URL (ours or Vercel's) or a pathname, as a pathname. */
function pathnameOf(urlOrPathname: string): string {
  if (!/^https?:\/\//i.test(urlOrPathname)) return urlOrPathname;
  let url: URL;
  try {
    url = new URL(urlOrPathname);
  } catch (error) {
    if (error instanceof TypeError) throw new BlobApiError(400, "bad_request", "not a valid blob URL");
    throw error;
  }
  const rawPath = url.pathname.startsWith("/blobs/") ? url.pathname.slice("/blobs/".length) : url.pathname.slice(1);
  try {
    return rawPath.split("/").map(decodeURIComponent).join("/");
  } catch (error) {
    if (error instanceof URIError) throw new BlobApiError(400, "bad_request", "the blob URL is not valid percent-encoding");
    throw error;
  }
}

function inferContentType(pathname: string): string {
  const dot = pathname.lastIndexOf(".");
  const extension = dot === -1 ? "" : pathname.slice(dot + 1).toLowerCase();
  return CONTENT_TYPES[extension] ?? "application/octet-stream";
}

/** Vercel puts the suffix before the extension: `orders-<random>.csv`. */
function withRandomSuffix(pathname: string): string {
  const suffix = randomBytes(15).toString("base64url").replace(/[-_]/g, "x");
  const slash = pathname.lastIndexOf("/");
  const dot = pathname.lastIndexOf(".");
  return dot > slash + 1 ? `${pathname.slice(0, dot)}-${suffix}${pathname.slice(dot)}` : `${pathname}-${suffix}`;
}

function disposition(pathname: string, access: BlobAccess): string {
  const name = (pathname.split("/").pop() ?? "").replace(/["\\]/g, "_");
  return `${access === "private" ? "attachment" : "inline"}; filename="${name}"`;
}

function cacheControl(meta: BlobMeta): string {
  return `${meta.access === "private" ? "private" : "public"}, max-age=${meta.cacheControlMaxAge}`;
}

function sameEtag(stored: string, given: string): boolean {
  const bare = (value: string) => value.trim().replace(/^W\//, "").replace(/^"|"$/g, "");
  return bare(stored) === bare(given);
}

function nonNegativeInteger(value: string, name: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new BlobApiError(400, "bad_request", `${name} must be an integer ≥ 0`);
  return number;
}

/**
 * One `bytes=` range, as HTTP (RFC 9110 §14): `a-b`, `a-`, `-n`; the end is clamped to
 * the last byte. Several ranges, or a malformed header, are ignored (the whole blob,
 * which HTTP allows); a start at or past the end is unsatisfiable (416).
 */
function parseRange(value: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | null {
  if (value === undefined) return null;
  const match = /^bytes=(\d*)-(\d*)$/i.exec(value.trim());
  if (!match || (match[1] === "" && match[2] === "")) return null;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? Number.POSITIVE_INFINITY : Number(match[2]);
  if (end < start) return null; // malformed: ignored, as HTTP says
  if (start >= size) return "unsatisfiable";
  return { start, end: Math.min(end, size - 1) };
}

function parsePartList(body: Buffer): Array<{ partNumber: number; etag: string }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (error) {
    if (error instanceof SyntaxError) throw new BlobApiError(400, "bad_request", "the part list must be JSON");
    throw error;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length === 0 ||
    !parsed.every(
      (part: unknown) =>
        typeof part === "object" &&
        part !== null &&
        Number.isInteger((part as { partNumber?: unknown }).partNumber) &&
        typeof (part as { etag?: unknown }).etag === "string",
    )
  ) {
    throw new BlobApiError(400, "bad_request", "the body must be a non-empty list of {partNumber, etag}");
  }
  return parsed as Array<{ partNumber: number; etag: string }>;
}

function readSmallBody(req: IncomingMessage, limit = 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BlobApiError(413, "bad_request", `the body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

/** A response that goes nowhere, for loseNextAnswers (the API routes only use answer()). */
function discardingResponse(): ServerResponse {
  const sink = { headersSent: false, writeHead: () => sink, end: () => sink, destroy: () => sink, setHeader: () => sink };
  return sink as unknown as ServerResponse;
}

/** A CORS preflight: the methods of the API and whatever headers the SDK asks to send (its x-* headers). */
function answerPreflight(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  res.writeHead(204, {
    "access-control-allow-methods": "GET, HEAD, PUT, POST",
    "access-control-allow-headers": header(req, "access-control-request-headers") ?? "authorization, content-type",
    "access-control-max-age": "600",
  });
  res.end();
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

// ── standalone ──────────────────────────────────────────────────────────────

const invokedAsScript =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;

if (invokedAsScript) {
  const { values } = parseArgs({
    options: {
      "data-dir": { type: "string" },
      token: { type: "string" },
      port: { type: "string", default: "0" },
      host: { type: "string", default: "127.0.0.1" },
    },
  });
  if (!values["data-dir"]) {
    process.stderr.write("usage: tsx dev/blob/server.ts --data-dir DIR [--token T] [--port 0] [--host 127.0.0.1]\n");
    process.exit(2);
  }
  const blob = await startBlobServer({
    dataDir: path.resolve(values["data-dir"]),
    token: values.token ?? newReadWriteToken(),
    port: Number(values.port),
    host: values.host,
  });
  process.stdout.write(
    `blob stand-in: listening on ${blob.url}, blobs in ${blob.directory}\n` +
      `  VERCEL_BLOB_API_URL=${blob.url}\n` +
      `  BLOB_READ_WRITE_TOKEN=${blob.token}\n`,
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      blob.close().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`blob stand-in: could not close cleanly: ${String(error)}\n`);
          process.exit(1);
        },
      );
    });
  }
}
