/**
 * The files of a multipart import, put into object storage and recorded in `uploads`
 * (source "form") with their SHA-256, so that from then on they are imported exactly
 * as files named by key.
 */
import { uploads } from "../db/schema.js";
import type { FormFile } from "../http/multipart.js";
import type { Runtime } from "../runtime.js";
import { newImportKey } from "../storage/keys.js";

/** Parts put into object storage at once. */
const PUT_CONCURRENCY = 8;

export interface StoredPart {
  key: string;
  name: string;
  sha256: string;
}

/** Puts each part under a new import key and records it; in the parts' order. `hashes[i]` is part i's SHA-256. */
export async function storeFormParts(runtime: Runtime, parts: FormFile[], hashes: string[]): Promise<StoredPart[]> {
  const objects = runtime.objectStore();
  const { db } = await runtime.database();
  const stored: StoredPart[] = new Array<StoredPart>(parts.length);
  for (let start = 0; start < parts.length; start += PUT_CONCURRENCY) {
    await Promise.all(
      parts.slice(start, start + PUT_CONCURRENCY).map(async (part, offset) => {
        const key = newImportKey(part.name);
        const sha256 = hashes[start + offset] as string;
        const put = await objects.put(key, part.bytes, { contentType: part.contentType });
        await db.insert(uploads).values({
          key,
          name: part.name,
          size: part.bytes.length,
          contentType: put.contentType,
          etag: put.etag,
          source: "form",
          sha256,
          uploadedAt: new Date(),
        });
        stored[start + offset] = { key, name: part.name, sha256 };
      }),
    );
  }
  return stored;
}
