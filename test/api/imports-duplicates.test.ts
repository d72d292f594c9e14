/**
 * The same content twice in one import is a 400 `duplicate_content` at POST /api/imports
 * wherever the hashes can be known then: multipart parts (hashed from the request),
 * client uploads (hashed by the signed upload-completed callback and recorded on
 * `uploads`), and files nobody recorded (hashed in the request within
 * DROPFLOW_IMPORT_HASH_BUDGET_BYTES, 1 MiB here). Past the budget the planner's
 * `duplicate_file` still catches a twin; a later import of the same file is fine.
 * The dev server runs in process (Blob and QStash stand-ins) on a fresh Postgres; client
 * uploads go through the real `upload()` of @vercel/blob/client.
 */
import { createHash } from "node:crypto";
import { upload } from "@vercel/blob/client";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../../dev/server.js";
import { queryRows } from "../../lib/db/client.js";
import { newImportKey } from "../../lib/storage/index.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { availablePostgres } from "../support/databases.js";
import { importSettled, waitForImport } from "../support/job-status.js";
import { purchasesCsv, purchasesCsvOfSize } from "../support/purchases-csv.js";

const TOKEN = "imports-duplicates-token-0123456789";
const MiB = 1024 * 1024;
const BUDGET = MiB;
const postgres = availablePostgres();

interface Problem {
  error: { code: string; message: string; fields: Array<{ field: string; location: string; message: string }>; correlation_id: string };
}
interface Created {
  job_id: string;
  files: Array<{ id: string; name: string; size: number; key: string }>;
}
interface ImportStatus {
  status: string;
  counts: Record<string, number>;
  files: Array<{ name: string; status: string; error: { code: string; message: string } | null }>;
}

const sha256 = (bytes: string | Buffer) => createHash("sha256").update(bytes).digest("hex");

describe.skipIf(!postgres)("POST /api/imports: the same content twice in one import", () => {
  let app: AppServer;
  let server: DevServer;

  beforeAll(async () => {
    app = await startAppServer(TOKEN, {
      DROPFLOW_IMPORT_HASH_BUDGET_BYTES: String(BUDGET),
      DROPFLOW_CHUNK_ROWS: "500",
      DROPFLOW_MAX_DURATION_S: "20",
      DROPFLOW_DEADLINE_MARGIN_S: "1",
      LOG_LEVEL: "error",
    });
    server = app.server;
  });
  afterAll(() => app?.close());

  const post = (body: string | FormData) =>
    fetch(`${app.base}/api/imports`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, ...(typeof body === "string" ? { "content-type": "application/json" } : {}) },
      body,
    });
  const createJson = (files: Array<{ key: string; name: string }>) => post(JSON.stringify({ file_type: "purchases", files }));
  const db = async () => (await server.runtime.database()).db;

  /** What an import request could have left behind. */
  async function footprint() {
    const [row] = await queryRows<{ jobs: number; import_files: number; uploads: number }>(
      await db(),
      sql`select (select count(*)::int from jobs) as jobs, (select count(*)::int from import_files) as import_files,
                 (select count(*)::int from uploads) as uploads`,
    );
    let objects = 0;
    for (let cursor: string | null | undefined; cursor !== null; ) {
      const page = await server.runtime.objectStore().list("imports/", cursor ? { cursor } : {});
      objects += page.objects.length;
      cursor = page.cursor;
    }
    return { ...row, objects };
  }

  /** The real client upload: token from POST /api/uploads, bytes to the Blob stand-in, then its signed callback. */
  async function clientUpload(name: string, bytes: string | Buffer): Promise<string> {
    const key = newImportKey(name);
    await upload(key, Buffer.from(bytes), {
      access: "private",
      handleUploadUrl: `${app.base}/api/uploads`,
      headers: { authorization: `Bearer ${TOKEN}` },
      contentType: "text/csv",
      clientPayload: JSON.stringify({ name }),
    });
    await server.blob?.idle();
    return key;
  }

  /** Into storage directly: never recorded in `uploads`. */
  async function putDirectly(name: string, bytes: string | Buffer): Promise<string> {
    const key = newImportKey(name);
    await server.runtime.objectStore().put(key, bytes, { contentType: "text/csv" });
    return key;
  }

  /** One JSON import of files put into storage directly. */
  async function importUnrecorded(files: Array<{ name: string; text: string }>): Promise<Response> {
    const refs = [];
    for (const file of files) refs.push({ key: await putDirectly(file.name, file.text), name: file.name });
    return createJson(refs);
  }

  const recordedHash = async (key: string) =>
    (await queryRows<{ sha256: string | null }>(await db(), sql`select sha256 from uploads where key = ${key}`))[0]?.sha256;

  // The tests read file statuses, which are written after the job's: wait for both.
  const settled = (id: string) => waitForImport<ImportStatus>(app, id, { until: importSettled });
  const fileHashes = async (jobId: string) =>
    queryRows<{ name: string; sha256: string }>(
      await db(),
      sql`select name, sha256 from import_files where job_id = ${jobId} order by position`,
    );

  function form(files: Array<{ name: string; text: string }>): FormData {
    const data = new FormData();
    data.append("file_type", "purchases");
    for (const file of files) data.append("files", new Blob([file.text], { type: "text/csv" }), file.name);
    return data;
  }

  it("refuses two multipart parts with the same bytes (400 naming both files and files.2), storing and creating nothing", async () => {
    const same = purchasesCsv(5, 100);
    const before = await footprint();
    const response = await post(
      form([
        { name: "march.csv", text: same },
        { name: "april.csv", text: purchasesCsv(5, 200) },
        { name: "march copy.csv", text: same },
      ]),
    );
    expect(response.status).toBe(400);
    const problem = (await response.json()) as Problem;
    expect(problem.error).toEqual({
      code: "duplicate_content",
      message:
        `The same content twice in one import: files.2 ("march copy.csv") has the same content as files.0 ("march.csv") ` +
        `(sha256 ${sha256(same)}). Import each file once (a later import may take it again).`,
      fields: [{ field: "files.2", location: "body", message: 'the same content as files.0 ("march.csv")' }],
      correlation_id: response.headers.get("x-correlation-id"),
    });
    expect(await footprint()).toEqual(before);
  });

  it("records each multipart part's sha256 on uploads and import_files, and imports distinct parts (202)", async () => {
    const a = purchasesCsv(4, 300);
    const b = purchasesCsv(4, 400);
    const response = await post(form([{ name: "a.csv", text: a }, { name: "b.csv", text: b }]));
    expect(response.status).toBe(202);
    const created = (await response.json()) as Created;
    const rows = await queryRows<{ key: string; sha256: string }>(
      await db(),
      sql`select key, sha256 from uploads where key in (${created.files[0]?.key}, ${created.files[1]?.key}) order by name`,
    );
    expect(rows).toEqual([
      { key: created.files[0]?.key, sha256: sha256(a) },
      { key: created.files[1]?.key, sha256: sha256(b) },
    ]);
    expect(await fileHashes(created.job_id)).toEqual([
      { name: "a.csv", sha256: sha256(a) },
      { name: "b.csv", sha256: sha256(b) },
    ]);
    const status = await settled(created.job_id);
    expect(status.status).toBe("completed");
    expect(status.counts).toMatchObject({ rows: 8, orders_inserted: 8 });
  });

  it("refuses two client uploads of the same content by the sha256 their callbacks recorded, even past the hashing budget", async () => {
    // 1.5 MiB each: 3 MiB unknown would be far past the 1 MiB budget, so only the
    // recorded hashes can tell.
    const { text } = purchasesCsvOfSize(1.5 * MiB);
    expect(text.length).toBeGreaterThan(BUDGET);
    const first = await clientUpload("orders week 1.csv", text);
    const second = await clientUpload("orders week 1 (1).csv", text);
    expect(await recordedHash(first)).toBe(sha256(text));
    expect(await recordedHash(second)).toBe(sha256(text));

    const before = await footprint();
    const response = await createJson([
      { key: first, name: "orders week 1.csv" },
      { key: second, name: "orders week 1 (1).csv" },
    ]);
    expect(response.status).toBe(400);
    const problem = (await response.json()) as Problem;
    expect(problem.error.code).toBe("duplicate_content");
    expect(problem.error.message).toContain(
      `files.1 ("orders week 1 (1).csv") has the same content as files.0 ("orders week 1.csv") (sha256 ${sha256(text)})`,
    );
    expect(problem.error.fields).toEqual([
      { field: "files.1", location: "body", message: 'the same content as files.0 ("orders week 1.csv")' },
    ]);
    expect(await footprint()).toEqual(before);
  });

  it("hashes a file nobody recorded in the request: the same content as a client upload, or as another such file, is a 400", async () => {
    const text = purchasesCsv(30, 500);
    const uploaded = await clientUpload("uploaded.csv", text);
    const direct = await putDirectly("direct.csv", text);
    const other = await putDirectly("direct again.csv", text);
    const bystander = await putDirectly("bystander.csv", purchasesCsv(3, 600));
    expect(await recordedHash(direct)).toBeUndefined();
    const before = await footprint();

    const mixed = await createJson([
      { key: direct, name: "direct.csv" },
      { key: uploaded, name: "uploaded.csv" },
    ]);
    expect(mixed.status).toBe(400);
    expect(((await mixed.json()) as Problem).error).toMatchObject({
      code: "duplicate_content",
      fields: [{ field: "files.1", location: "body", message: 'the same content as files.0 ("direct.csv")' }],
    });

    const unrecorded = await createJson([
      { key: bystander, name: "bystander.csv" },
      { key: direct, name: "direct.csv" },
      { key: other, name: "direct again.csv" },
    ]);
    expect(unrecorded.status).toBe(400);
    const problem = (await unrecorded.json()) as Problem;
    expect(problem.error.message).toContain(
      `files.2 ("direct again.csv") has the same content as files.1 ("direct.csv") (sha256 ${sha256(text)})`,
    );
    expect(problem.error.fields.map((f) => f.field)).toEqual(["files.2"]);
    expect(await footprint()).toEqual(before);
  });

  it("does not trust a recorded sha256 once the object under the key was written again", async () => {
    const text = purchasesCsv(10, 700);
    const original = await clientUpload("original.csv", text);
    const replaced = await clientUpload("replaced.csv", text.replaceAll(",7007", ",7008"));
    expect(await recordedHash(replaced)).toBe(sha256(text.replaceAll(",7007", ",7008")));
    // Another writer puts the original's bytes under the second key: its recorded hash is stale.
    await server.runtime.objectStore().put(replaced, text, { contentType: "text/csv", overwrite: true });
    const response = await createJson([
      { key: original, name: "original.csv" },
      { key: replaced, name: "replaced.csv" },
    ]);
    expect(response.status).toBe(400);
    expect(((await response.json()) as Problem).error.fields.map((f) => f.field)).toEqual(["files.1"]);
  });

  it("imports distinct contents of the same size (hashed in the request, 202) with each file's sha256 on import_files", async () => {
    const a = purchasesCsv(20, 3000);
    const b = a.replaceAll(",7030", ",7040"); // other order codes, the same length
    expect(b).not.toBe(a);
    expect(b.length).toBe(a.length);
    const response = await importUnrecorded([
      { name: "same size a.csv", text: a },
      { name: "same size b.csv", text: b },
    ]);
    expect(response.status).toBe(202);
    const created = (await response.json()) as Created;
    expect(await fileHashes(created.job_id)).toEqual([
      { name: "same size a.csv", sha256: sha256(a) },
      { name: "same size b.csv", sha256: sha256(b) },
    ]);
    const status = await settled(created.job_id);
    expect(status.status).toBe("completed");
    expect(status.counts).toMatchObject({ rows: 40, row_errors: 0, orders_inserted: 40 });
    expect(status.files.map((f) => [f.name, f.status])).toEqual([
      ["same size a.csv", "completed"],
      ["same size b.csv", "completed"],
    ]);
  });

  it("allows re-importing the same file in a later import (202), which changes nothing", async () => {
    const text = purchasesCsv(12, 800);
    const key = await clientUpload("again.csv", text);
    const first = await createJson([{ key, name: "again.csv" }]);
    expect(first.status).toBe(202);
    const firstStatus = await settled(((await first.json()) as Created).job_id);
    expect(firstStatus.counts).toMatchObject({ rows: 12, orders_inserted: 12 });

    const second = await createJson([{ key, name: "again.csv" }]);
    expect(second.status).toBe(202);
    const secondStatus = await settled(((await second.json()) as Created).job_id);
    expect(secondStatus.status).toBe("completed");
    expect(secondStatus.counts).toMatchObject({ rows: 12, orders_inserted: 0, orders_updated: 0, orders_unchanged: 12 });

    // The same bytes sent again as a multipart part, in a third import: also fine.
    const third = await post(form([{ name: "again.csv", text }]));
    expect(third.status).toBe(202);
    const thirdStatus = await settled(((await third.json()) as Created).job_id);
    expect(thirdStatus.counts).toMatchObject({ rows: 12, orders_unchanged: 12 });
  });

  it("past the budget leaves unrecorded twins to the planner, which fails the second as duplicate_file", async () => {
    // Two unrecorded files of 0.6 MiB: 1.2 MiB to read, over the 1 MiB budget.
    const { text, rows } = purchasesCsvOfSize(0.6 * MiB);
    const response = await importUnrecorded([
      { name: "big.csv", text },
      { name: "big copy.csv", text },
    ]);
    expect(response.status).toBe(202);
    const status = await settled(((await response.json()) as Created).job_id);
    expect(status.files.map((f) => [f.name, f.status, f.error?.code ?? null])).toEqual([
      ["big.csv", "completed", null],
      ["big copy.csv", "failed", "duplicate_file"],
    ]);
    expect(status.files[1]?.error?.message).toMatch(/same content as big\.csv/);
    expect(status.counts).toMatchObject({ rows });
  });
});
