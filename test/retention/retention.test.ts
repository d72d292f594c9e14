/**
 * Retention on the dev server in process (real Postgres, the Blob stand-in): old log
 * records, row errors and uploaded files go, recent ones and every import's data stay;
 * DELETE /api/imports/:id/files deletes a finished import's files at once; the cron
 * route needs the cron secret.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryRows } from "../../lib/db/client.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { waitForStatus } from "../support/job-status.js";

const API_TOKEN = "retention-api-test-token-0123456789";
const CRON_SECRET = "retention-cron-secret-0123456789";
let app: AppServer;

beforeAll(async () => {
  app = await startAppServer(API_TOKEN, { CRON_SECRET, LOG_LEVEL: "info" }, { simulators: false });
}, 60_000);
afterAll(() => app?.close());

const CSV = [
  "Waktu Pesanan Terbuat,Kode Pesanan,Status,Kode Invoice Channel,Nama Toko,SKU,Qty,Harga Satuan",
].join("\n");

async function importOneFile(name: string, body: string): Promise<string> {
  const form = new FormData();
  form.append("file_type", "purchases");
  form.append("files", new Blob([body], { type: "text/csv" }), name);
  const response = await fetch(`${app.base}/api/imports`, { method: "POST", headers: { authorization: `Bearer ${API_TOKEN}` }, body: form });
  expect(response.status).toBe(202);
  const { job_id } = (await response.json()) as { job_id: string };
  await waitForStatus(async () => (await (await app.api(`/api/imports/${job_id}`)).json()) as { status: string }, { timeoutMs: 30_000 });
  return job_id;
}

describe("retention", () => {
  it("the cron needs the cron secret, deletes only what is old, and DELETE /api/imports/:id/files deletes at once", async () => {
    const cron = (authorization?: string) => fetch(`${app.base}/api/cron/retention`, { headers: authorization ? { authorization } : {} });
    expect((await cron()).status).toBe(401);
    expect((await cron(`Bearer ${API_TOKEN}`)).status).toBe(401);

    const oldImport = await importOneFile("old.csv", `${CSV}\nnot a date,X1,Selesai,INV1,Toko A,SKU1,1,1000\n`);
    const newImport = await importOneFile("new.csv", `${CSV}\nnot a date,X2,Selesai,INV2,Toko A,SKU1,1,1000\n`);
    await app.server.runtime.flushLogs();
    const { db } = await app.server.runtime.database();
    // Age the first import, its row errors and some log records past every retention.
    await db.execute(sql`update jobs set finished_at = now() - interval '200 days' where id = ${oldImport}::uuid`);
    await db.execute(sql`update log_records set time = now() - interval '40 days' where correlation_id is not null and id in (select id from log_records order by id limit 3)`);
    const count = async (query: ReturnType<typeof sql>) => (await queryRows<{ n: number }>(db, query))[0]?.n ?? 0;
    const oldLogs = await count(sql`select count(*)::int as n from log_records where time < now() - interval '30 days'`);
    expect(oldLogs).toBeGreaterThan(0);
    const oldErrors = await count(sql`select count(*)::int as n from import_row_errors where job_id = ${oldImport}::uuid`);
    expect(oldErrors).toBeGreaterThan(0);
    const [oldFile] = await queryRows<{ key: string }>(db, sql`select object_key as key from import_files where job_id = ${oldImport}::uuid`);
    const objects = app.server.runtime.objectStore();
    expect(await objects.head(oldFile?.key ?? "")).not.toBeNull();

    const swept = await cron(`Bearer ${CRON_SECRET}`);
    expect(swept.status).toBe(200);
    expect(await swept.json()).toMatchObject({ log_records: oldLogs, row_errors: oldErrors, files: 1, finished: true });
    expect(await count(sql`select count(*)::int as n from import_row_errors where job_id = ${oldImport}::uuid`)).toBe(0);
    expect(await count(sql`select count(*)::int as n from import_row_errors where job_id = ${newImport}::uuid`)).toBeGreaterThan(0);
    expect(await objects.head(oldFile?.key ?? "")).toBeNull();
    // The old import itself, and its counts, stay.
    expect((await app.api(`/api/imports/${oldImport}`)).status).toBe(200);

    const [newFile] = await queryRows<{ key: string }>(db, sql`select object_key as key from import_files where job_id = ${newImport}::uuid`);
    expect(await objects.head(newFile?.key ?? "")).not.toBeNull();
    const deleted = await app.api(`/api/imports/${newImport}/files`, { method: "DELETE" });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ id: newImport, files_deleted: 1 });
    expect(await objects.head(newFile?.key ?? "")).toBeNull();
    expect(await (await app.api(`/api/imports/${newImport}/files`, { method: "DELETE" })).json()).toEqual({ id: newImport, files_deleted: 0 });
    expect((await fetch(`${app.base}/api/imports/${newImport}/files`, { method: "DELETE" })).status).toBe(401);
  });
});
