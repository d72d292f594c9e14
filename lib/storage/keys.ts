/**
 * Object keys. Every store method checks its key with validateObjectKey() before any
 * request; newImportKey() makes the key of an uploaded file.
 *
 * Why so strict: a key becomes a URL path (the SDK's get() builds
 * `https://<store>.private.blob.vercel-storage.com/<key>` without encoding it) and, in
 * the local stand-in, a name on disk. So a key must not be able to climb out of its
 * prefix (`..`, `%2e%2e`, an absolute path, a backslash on Windows), nor change what
 * the URL means (`?`, `#`, `%`), nor carry control characters into logs and headers.
 */
import { randomUUID } from "node:crypto";
import { InvalidObjectKeyError } from "./errors.js";

/** Longest key in UTF-8 bytes (Vercel allows 950 characters; our keys are far shorter). */
export const MAX_KEY_BYTES = 512;
/** Longest sanitised file name in characters, extension included. */
export const MAX_FILE_NAME_LENGTH = 120;
/** Longest extension kept whole when a file name is shortened. */
const MAX_EXTENSION_LENGTH = 16;

export const IMPORTS_PREFIX = "imports/";

// C0 controls, DEL and the C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/** Half of a UTF-16 surrogate pair without its other half: not encodable as UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Returns `key` if it is a valid object key, else throws InvalidObjectKeyError. */
export function validateObjectKey(key: unknown): string {
  if (typeof key !== "string") throw new InvalidObjectKeyError("a key must be a string", key);
  if (key === "") throw new InvalidObjectKeyError("a key must not be empty", key);
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) {
    throw new InvalidObjectKeyError(`a key must not exceed ${MAX_KEY_BYTES} bytes`, key);
  }
  if (LONE_SURROGATE.test(key)) throw new InvalidObjectKeyError("a key must be well-formed Unicode", key);
  if (CONTROL_CHARACTERS.test(key)) throw new InvalidObjectKeyError("a key must not contain control characters", key);
  if (key.includes("\\")) throw new InvalidObjectKeyError("a key must not contain a backslash", key);
  if (key.startsWith("/")) throw new InvalidObjectKeyError("a key must be relative (no leading /)", key);
  if (/^[A-Za-z]:/.test(key)) throw new InvalidObjectKeyError("a key must not start with a drive letter", key);
  if (/[?#%]/.test(key)) {
    throw new InvalidObjectKeyError("a key must not contain ?, # or % (they would change the blob's URL)", key);
  }
  for (const segment of key.split("/")) {
    if (segment === "") throw new InvalidObjectKeyError("a key must not contain empty segments (// or a trailing /)", key);
    if (segment === "." || segment === "..") throw new InvalidObjectKeyError("a key must not contain . or .. segments", key);
  }
  return key;
}

/**
 * A list() prefix: "" (everything), or a key or the start of one, which may end in "/"
 * (a folder). The same rules as keys otherwise.
 */
export function validateKeyPrefix(prefix: unknown): string {
  if (prefix === "") return prefix;
  if (typeof prefix !== "string") throw new InvalidObjectKeyError("a prefix must be a string", prefix);
  validateObjectKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}

/**
 * A file name reduced to what is safe in a key and readable in a listing: its last
 * path segment (whatever the uploader's OS), accents folded to ASCII, every other
 * character outside `A-Za-z0-9._-` as `_`, no leading dots (no hidden files, no
 * `..`), at most MAX_FILE_NAME_LENGTH characters with the extension kept.
 * Never empty ("file").
 */
export function sanitiseFileName(fileName: string): string {
  const base = (fileName.split(/[/\\]/).pop() ?? "").normalize("NFKD").replace(/\p{M}+/gu, "");
  const clean = (part: string) =>
    part
      .replace(/[^A-Za-z0-9._-]+/g, "_")
      .replace(/_{2,}/g, "_")
      .replace(/\.{2,}/g, ".")
      .replace(/[_-]+\.|\.[_-]+/g, ".")
      .replace(/^[._-]+/, "")
      .replace(/[._-]+$/, "");
  // The extension is cleaned on its own, so a name of only unusable characters keeps it ("file.csv").
  const dot = base.lastIndexOf(".");
  let extension = dot > 0 ? clean(base.slice(dot + 1)).replace(/\./g, "") : "";
  let stem = dot > 0 ? base.slice(0, dot) : base;
  if (extension.length > MAX_EXTENSION_LENGTH) {
    stem = base;
    extension = "";
  }
  const suffix = extension ? `.${extension}` : "";
  stem = clean(stem).slice(0, MAX_FILE_NAME_LENGTH - suffix.length).replace(/[._-]+$/, "");
  return `${stem || "file"}${suffix}`;
}

/**
 * The key of an uploaded file: `imports/<uuid>/<sanitised name>`. The random folder
 * keeps two uploads of `orders.csv` apart; the name keeps listings readable.
 */
export function newImportKey(fileName: string): string {
  return validateObjectKey(`${IMPORTS_PREFIX}${randomUUID()}/${sanitiseFileName(fileName)}`);
}

const IMPORT_KEY = /^imports\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/([^/]+)$/;

/**
 * The file name of a key shaped as newImportKey() makes them, `imports/<uuid>/<name>`
 * with a lower-case UUID and an already sanitised name; null for any other key. A
 * client upload must name such a key (the Blob SDK signs the pathname the client asks
 * for, so the server can check it but not replace it).
 */
export function importKeyFileName(key: string): string | null {
  const name = IMPORT_KEY.exec(key)?.[1];
  if (name === undefined || sanitiseFileName(name) !== name) return null;
  try {
    validateObjectKey(key);
  } catch (error) {
    if (error instanceof InvalidObjectKeyError) return null;
    throw error;
  }
  return name;
}
