/**
 * The object key of an upload, as the server requires it: `imports/<uuid>/<name>` with
 * the name as lib/storage/keys.ts's sanitiseFileName() leaves it (POST /api/uploads
 * refuses any other pathname). This is that function, line for line, for the browser;
 * test/dashboard/file-names.test.ts checks that both give the same name for the same input.
 */
import { newUuid } from "./api.js";

const MAX_FILE_NAME_LENGTH = 120;
const MAX_EXTENSION_LENGTH = 16;

export function sanitiseFileName(fileName) {
  const base = (fileName.split(/[/\\]/).pop() ?? "").normalize("NFKD").replace(/\p{M}+/gu, "");
  const clean = (part) =>
    part
      .replace(/[^A-Za-z0-9._-]+/g, "_")
      .replace(/_{2,}/g, "_")
      .replace(/\.{2,}/g, ".")
      .replace(/[_-]+\.|\.[_-]+/g, ".")
      .replace(/^[._-]+/, "")
      .replace(/[._-]+$/, "");
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

/** A fresh import key for a file called `fileName`. */
export function newImportKey(fileName) {
  return `imports/${newUuid()}/${sanitiseFileName(fileName)}`;
}
