/**
 * POST /api/imports beyond its JSON form: multipart/form-data (small files sent in the
 * request), Idempotency-Key (per API token, 24 h, conflicts, concurrency, release on
 * failure, expiry, takeover of an abandoned claim), callback_url validation, and the
 * completion webhook delivered through the embedded queue to a local receiver, signed
 * at each attempt, retried after a 500.
 * The dev server runs in process with its Blob and QStash stand-ins on a fresh Postgres.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../../dev/server.js";
import { queryRows } from "../../lib/db/client.js";
import { newImportKey } from "../../lib/storage/index.js";
import { verifyWebhookSignature } from "../../lib/webhooks/verify.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { availablePostgres } from "../support/databases.js";
import { type Destination, startDestination } from "../support/destination.js";
import { waitForImport } from "../support/job-status.js";
import { purchasesCsv } from "../support/purchases-csv.js";

const TOKEN = "imports-create-token-0123456789";
const OTHER_TOKEN = "imports-create-other-0123456789";
const MiB = 1024 * 1024;
const postgres = availablePostgres();

interface Problem {
  error: { code: string; message: string; fields: Array<{ field: string; location: string }> };
}
interface Created {
  job_id: string;
  files: Array<{ id: string; name: string; size: number; key: string }>;
  status_url: string;
}
interface ImportStatus {
  id: string;
  status: string;
  counts: Record<string, number>;
  files: Array<{ name: string; status: string; error: { code: string } | null }>;
  first_errors: unknown[];
}

describe.skipIf(!postgres)("POST /api/imports: multipart, Idempotency-Key, completion webhook", () => {
  let app: AppServer;
  let server: DevServer;
  let receiver: Destination;

  beforeAll(async () => {
    receiver = await startDestination();
    app = await startAppServer([TOKEN, OTHER_TOKEN], {
      DROPFLOW_CHUNK_ROWS: "50",
      DROPFLOW_MAX_DURATION_S: "20",
      DROPFLOW_DEADLINE_MARGIN_S: "1",
      LOG_LEVEL: "error",
    });
    server = app.server;
  });
  afterAll(async () => {
    await app?.close();
    await receiver?.close();
  });

  const post = (body: string | FormData, headers: Record<string, string> = {}) =>
    fetch(`${app.base}/api/imports`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, ...(typeof body === "string" ? { "content-type": "application/json" } : {}), ...headers },
      body,
    });
  const get = async <T>(p: string) =>
    (await (await fetch(`${app.base}${p}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as T;
  const db = async () => (await server.runtime.database()).db;
  const count = async (table: "jobs" | "uploads" | "idempotency_keys") =>
    Number((await queryRows<{ n: number }>(await db(), sql`select count(*)::int as n from ${sql.raw(table)}`))[0]?.n);

  async function stored(name: string, text: string): Promise<string> {
    const key = newImportKey(name);
    await server.runtime.objectStore().put(key, text, { contentType: "text/csv" });
    return key;
  }


  function form(fields: Record<string, string>, files: Array<{ name: string; text: string | Buffer; type?: string }>): FormData {
    const data = new FormData();
    for (const [name, value] of Object.entries(fields)) data.append(name, value);
    for (const file of files) data.append("files", new Blob([file.text], { type: file.type ?? "text/csv" }), file.name);
    return data;
  }

  const fieldsOf = async (response: Response) => ((await response.json()) as Problem).error.fields.map((f) => f.field);

  // ── multipart ─────────────────────────────────────────────────────────────

  describe("multipart/form-data", () => {
    it("stores each part under a new import key, records it, and imports it like the JSON form", async () => {
      const uploadsBefore = await count("uploads");
      const response = await post(
        form({ file_type: "purchases", dry_run: "false", lenient_amounts: "off" }, [
          { name: "März orders.csv", text: purchasesCsv(120, 1) },
          { name: "second.csv", text: purchasesCsv(30, 1000), type: "application/vnd.ms-excel" },
        ]),
      );
      expect(response.status).toBe(202);
      const created = (await response.json()) as Created;
      expect(created.files.map((f) => f.name)).toEqual(["März orders.csv", "second.csv"]);
      expect(created.files[0]?.key).toMatch(/^imports\/[0-9a-f-]{36}\/Marz_orders\.csv$/);
      expect(created.files[1]?.key).toMatch(/^imports\/[0-9a-f-]{36}\/second\.csv$/);
      expect(await count("uploads")).toBe(uploadsBefore + 2);
      const rows = await queryRows<{ key: string; name: string; source: string; content_type: string }>(
        await db(),
        sql`select key, name, source, content_type from uploads where key in (${created.files[0]?.key}, ${created.files[1]?.key}) order by name`,
      );
      expect(rows.map((r) => [r.name, r.source, r.content_type])).toEqual([
        ["März orders.csv", "form", "text/csv"],
        ["second.csv", "form", "application/vnd.ms-excel"],
      ]);
      const status = await waitForImport<ImportStatus>(app, created.job_id);
      expect(status.status).toBe("completed");
      expect(status.counts).toMatchObject({ rows: 150, row_errors: 0, orders_inserted: 150 });
    });

    it("answers 413 when the files total more than 4 MiB", async () => {
      const uploadsBefore = await count("uploads");
      const half = Buffer.alloc(2 * MiB + 100, 0x61);
      const response = await post(form({ file_type: "purchases" }, [{ name: "a.csv", text: half }, { name: "b.csv", text: half }]));
      expect(response.status).toBe(413);
      expect(((await response.json()) as Problem).error.code).toBe("payload_too_large");
      expect(await count("uploads")).toBe(uploadsBefore);
      // Just under the limit is accepted.
      const fits = await post(form({ file_type: "purchases", dry_run: "true" }, [{ name: "fits.csv", text: Buffer.alloc(4 * MiB - 1000, 0x61) }]));
      expect(fits.status).toBe(202);
    });

    it("names the field of each validation error", async () => {
      const file = { name: "a.csv", text: purchasesCsv(1) };
      expect(await fieldsOf(await post(form({}, [file])))).toEqual(["file_type"]);
      expect(await fieldsOf(await post(form({ file_type: "invoices" }, [file])))).toEqual(["file_type"]);
      expect(await fieldsOf(await post(form({ file_type: "purchases", dry_run: "maybe" }, [file])))).toEqual(["dry_run"]);
      expect(await fieldsOf(await post(form({ file_type: "purchases", lenient_amounts: "2" }, [file])))).toEqual(["lenient_amounts"]);
      expect(await fieldsOf(await post(form({ file_type: "purchases" }, [])))).toEqual(["files"]);
      const textPart = form({ file_type: "purchases" }, [file]);
      textPart.append("files", "not a file");
      expect(await fieldsOf(await post(textPart))).toEqual(["files.1"]);
      const twice = form({ file_type: "purchases" }, [file]);
      twice.append("file_type", "settlements");
      expect(await fieldsOf(await post(twice))).toEqual(["file_type"]);
      expect(await fieldsOf(await post(form({ file_type: "purchases", callback_url: "http://example.com/hook" }, [file])))).toEqual([
        "callback_url",
      ]);
      const unknownStore = await post(form({ file_type: "settlements", store: "Nowhere" }, [file]));
      expect(unknownStore.status).toBe(400);
      expect(await fieldsOf(unknownStore)).toEqual(["store"]);
      const other = await post("file_type=purchases", { "content-type": "text/plain" });
      expect(other.status).toBe(415);
    });

    it("still takes `kind`, the earlier name of file_type, and refuses the two when they differ", async () => {
      const file = { name: "alias.csv", text: purchasesCsv(1) };
      const byForm = await post(form({ kind: "purchases", dry_run: "true" }, [file]));
      expect(byForm.status).toBe(202);
      const created = (await byForm.json()) as Created;
      const status = await waitForImport<ImportStatus & { file_type: string }>(app, created.job_id);
      expect(status).toMatchObject({ status: "completed", file_type: "purchases" });
      expect(await fieldsOf(await post(form({ kind: "purchases", file_type: "settlements" }, [file])))).toEqual(["kind"]);
      expect(await fieldsOf(await post(form({ kind: "invoices" }, [file])))).toEqual(["kind"]);
      expect((await post(form({ kind: "purchases", file_type: "purchases", dry_run: "true" }, [file]))).status).toBe(202);
    });
  });

  // ── Idempotency-Key ───────────────────────────────────────────────────────

  describe("Idempotency-Key", () => {
    let key: string;
    beforeAll(async () => {
      key = await stored("idem.csv", purchasesCsv(3, 5000));
    });
    const body = (extra: Record<string, unknown> = {}) =>
      JSON.stringify({ file_type: "purchases", dry_run: true, files: [{ key, name: "idem.csv" }], ...extra });

    it("answers a repeat with the first response, without starting the work again", async () => {
      const jobs = await count("jobs");
      const first = await post(body(), { "idempotency-key": "repeat-1" });
      expect(first.status).toBe(202);
      const firstBody = await first.text();
      expect(first.headers.get("idempotent-replayed")).toBeNull();
      // The same request, keys in another order and a default spelled out: the same request.
      const again = await post(JSON.stringify({ dry_run: true, lenient_amounts: false, files: [{ name: "idem.csv", key }], file_type: "purchases" }), {
        "idempotency-key": "repeat-1",
      });
      expect(again.status).toBe(202);
      expect(await again.text()).toBe(firstBody);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.headers.get("location")).toBe(first.headers.get("location"));
      expect(again.headers.get("x-correlation-id")).not.toBe(first.headers.get("x-correlation-id"));
      expect(await count("jobs")).toBe(jobs + 1);
      // The token is stored only as its hash.
      const rows = await queryRows<{ token_hash: string }>(await db(), sql`select token_hash from idempotency_keys where key = 'repeat-1'`);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(rows[0]?.token_hash).not.toContain(TOKEN);
    });

    it("refuses the same key with a different request (409 conflict)", async () => {
      expect((await post(body(), { "idempotency-key": "conflict-1" })).status).toBe(202);
      const different = await post(body({ dry_run: false }), { "idempotency-key": "conflict-1" });
      expect(different.status).toBe(409);
      expect(((await different.json()) as Problem).error).toMatchObject({
        code: "conflict",
        fields: [{ field: "Idempotency-Key", location: "headers" }],
      });
    });

    it("keeps keys apart per API token", async () => {
      const jobs = await count("jobs");
      const mine = (await (await post(body(), { "idempotency-key": "shared-key" })).json()) as Created;
      const theirs = (await (
        await post(body(), { "idempotency-key": "shared-key", authorization: `Bearer ${OTHER_TOKEN}` })
      ).json()) as Created;
      expect(theirs.job_id).not.toBe(mine.job_id);
      expect(await count("jobs")).toBe(jobs + 2);
    });

    it("starts the work once for concurrent requests with one key", async () => {
      const jobs = await count("jobs");
      const responses = await Promise.all(
        Array.from({ length: 8 }, () => post(body(), { "idempotency-key": "concurrent-1" })),
      );
      const bodies = await Promise.all(responses.map(async (r) => ({ status: r.status, body: await r.text() })));
      expect(bodies.map((r) => r.status)).toEqual(Array(8).fill(202));
      expect(new Set(bodies.map((r) => r.body)).size).toBe(1);
      expect(responses.filter((r) => r.headers.get("idempotent-replayed") === "true")).toHaveLength(7);
      expect(await count("jobs")).toBe(jobs + 1);
    });

    it("releases the key of a request that failed, so a corrected one may use it", async () => {
      const failed = await post(body({ file_type: "settlements", store: "Unknown Store" }), { "idempotency-key": "fix-me" });
      expect(failed.status).toBe(400);
      const fixed = await post(body({ file_type: "settlements", store: "Unknown Store" }).replace("Unknown Store", ""), {
        "idempotency-key": "fix-me",
      });
      expect(fixed.status).toBe(202);
      expect(fixed.headers.get("idempotent-replayed")).toBeNull();
    });

    it("forgets a key after 24 hours, and takes over a claim whose request died", async () => {
      const first = (await (await post(body(), { "idempotency-key": "old-1" })).json()) as Created;
      await queryRows(await db(), sql`update idempotency_keys set created_at = now() - interval '25 hours' where key = 'old-1'`);
      const later = (await (await post(body(), { "idempotency-key": "old-1" })).json()) as Created;
      expect(later.job_id).not.toBe(first.job_id);
      // Other expired keys are swept by the requests that come by.
      await queryRows(await db(), sql`update idempotency_keys set created_at = now() - interval '25 hours' where key = 'repeat-1'`);
      await post(body(), { "idempotency-key": "sweeper" });
      expect(await queryRows(await db(), sql`select 1 from idempotency_keys where key = 'repeat-1'`)).toHaveLength(0);

      // A claim with no response for longer than the lock timeout belongs to a dead request.
      await queryRows(
        await db(),
        sql`update idempotency_keys set response_status = null, response_body = null, locked_at = now() - interval '10 minutes'
            where key = 'old-1'`,
      );
      const taken = await post(body(), { "idempotency-key": "old-1" });
      expect(taken.status).toBe(202);
      expect(((await taken.json()) as Created).job_id).not.toBe(later.job_id);
    });

    it("replays a multipart request without storing its files again", async () => {
      const request = () => form({ file_type: "purchases", dry_run: "true" }, [{ name: "idem-form.csv", text: purchasesCsv(2, 8000) }]);
      const first = await post(request(), { "idempotency-key": "form-1" });
      expect(first.status).toBe(202);
      const uploads = await count("uploads");
      const again = await post(request(), { "idempotency-key": "form-1" });
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(await again.json()).toEqual(await first.json());
      expect(await count("uploads")).toBe(uploads);
      const changed = await post(form({ file_type: "purchases", dry_run: "true" }, [{ name: "idem-form.csv", text: purchasesCsv(3, 8000) }]), {
        "idempotency-key": "form-1",
      });
      expect(changed.status).toBe(409);
    });

    it("refuses a malformed key, naming the header", async () => {
      for (const bad of ["x".repeat(256), "has space", " "]) {
        const response = await post(body(), { "idempotency-key": bad });
        expect(response.status).toBe(400);
        expect(((await response.json()) as Problem).error.fields).toEqual([
          expect.objectContaining({ field: "Idempotency-Key", location: "headers" }),
        ]);
      }
    });
  });

  // ── completion webhook ────────────────────────────────────────────────────

  describe("completion webhook", () => {
    it("refuses a callback_url that is not https or loopback http, naming callback_url", async () => {
      const key = await stored("cb.csv", purchasesCsv(1, 9000));
      for (const callback_url of ["http://example.com/hook", "ftp://127.0.0.1/hook", "not-a-url", "https://user:pw@example.com/"]) {
        const response = await post(JSON.stringify({ file_type: "purchases", files: [{ key, name: "cb.csv" }], callback_url }));
        expect(response.status, callback_url).toBe(400);
        expect(await fieldsOf(response)).toEqual(["callback_url"]);
      }
    });

    it("POSTs the signed summary after the import ends, through the queue, retrying after a 500 with a fresh signature", async () => {
      const secret = server.runtime.webhookSecret();
      let calls = 0;
      receiver.setHandler(() => {
        calls += 1;
        // The first attempt is answered late and with a 500: the queue retries, and the
        // retry, signed a second later, carries a later timestamp.
        return calls === 1 ? { status: 500, delayMs: 1100 } : { status: 200 };
      });
      const key = await stored("hooked.csv", purchasesCsv(120, 20000));
      const response = await post(
        JSON.stringify({ file_type: "purchases", files: [{ key, name: "hooked.csv" }], callback_url: `${receiver.url}/hooks/dropflow?source=test` }),
      );
      expect(response.status).toBe(202);
      const { job_id } = (await response.json()) as Created;
      const status = await waitForImport<ImportStatus>(app, job_id);
      expect(status.status).toBe("completed");

      const [first, second] = await receiver.waitFor(2, (r) => r.path === "/hooks/dropflow?source=test", 20_000);
      for (const delivery of [first, second]) {
        expect(delivery?.method).toBe("POST");
        const header = String(delivery?.headers["dropflow-signature"]);
        // What a receiver does: the raw body, the shared secret, five minutes of tolerance.
        expect(verifyWebhookSignature(header, delivery?.body ?? Buffer.alloc(0), secret)).toMatchObject({ valid: true });
        expect(verifyWebhookSignature(header, delivery?.body ?? Buffer.alloc(0), "another-secret-0123456789").valid).toBe(false);
        expect(delivery?.headers["dropflow-event"]).toBe("import.finished");
      }
      const stamp = (r: typeof first) => Number(/t=(\d+)/.exec(String(r?.headers["dropflow-signature"]))?.[1]);
      expect(stamp(second)).toBeGreaterThan(stamp(first));
      expect(second?.headers["dropflow-delivery"]).toBe(first?.headers["dropflow-delivery"]);
      expect(second?.text).toBe(first?.text);
      // The body is the status of GET /api/imports/:id, with the event named.
      const summary = JSON.parse(second?.text ?? "{}") as Record<string, unknown>;
      expect(summary).toEqual({ event: "import.finished", ...(await get<Record<string, unknown>>(`/api/imports/${job_id}`)) });
      expect(summary).toMatchObject({ id: job_id, status: "completed", counts: { rows: 120, orders_inserted: 120 } });

      // Delivered: no further attempts.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(receiver.requests.filter((r) => r.path === "/hooks/dropflow?source=test")).toHaveLength(2);
    });

    it("settles a cancelled import: final file statuses, true counts, nothing committed after, a webhook saying cancelled", async () => {
      receiver.setHandler(() => ({ status: 204 }));
      const keys = [];
      for (let i = 0; i < 3; i++) keys.push(await stored(`cancel-${i}.csv`, purchasesCsv(1500, 100_000 + i * 10_000)));
      const response = await post(
        JSON.stringify({
          file_type: "purchases",
          files: keys.map((key, i) => ({ key, name: `cancel-${i}.csv` })),
          callback_url: `${receiver.url}/cancelled`,
        }),
      );
      const { job_id } = (await response.json()) as Created;
      const written = async () =>
        Number(
          (await queryRows<{ n: number }>(await db(), sql`select count(*)::int as n from purchases where first_job_id = ${job_id}`))[0]?.n,
        );
      const until = Date.now() + 20_000;
      while ((await written()) === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 5));
      const cancel = await fetch(`${app.base}/api/jobs/${job_id}/cancel`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
      expect(cancel.status).toBe(200);
      const view = (await cancel.json()) as { status: string; progress: { percent: number; chunks: { running: number } } };
      expect(view.status).toBe("cancelled");
      expect(view.progress.chunks.running).toBe(0);
      const atCancel = await written();
      expect(view.progress.percent).toBeLessThan(100);

      const status = await get<ImportStatus>(`/api/imports/${job_id}`);
      expect(status.status).toBe("cancelled");
      // Every file has a final status; what committed is counted, where it committed.
      for (const file of status.files) expect(["completed", "completed_with_errors", "cancelled"]).toContain(file.status);
      expect(status.files.some((file) => file.status === "cancelled")).toBe(true);
      expect(status.counts.orders_inserted).toBe(atCancel);
      const perFile = status.files.reduce((sum, file) => sum + ((file as { counts?: Record<string, number> }).counts?.orders_inserted ?? 0), 0);
      expect(perFile).toBe(atCancel);

      // The webhook says so, once.
      const [hook] = await receiver.waitFor(1, (r) => r.path === "/cancelled", 20_000);
      const body = JSON.parse(hook?.text ?? "{}") as Record<string, unknown>;
      expect(body).toMatchObject({ event: "import.finished", id: job_id, status: "cancelled" });
      expect(body).toEqual({ event: "import.finished", ...(await get<Record<string, unknown>>(`/api/imports/${job_id}`)) });

      // Chunks that were working when the cancel came commit nothing afterwards.
      await server.queue?.idle();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await written()).toBe(atCancel);
      expect(await get<ImportStatus>(`/api/imports/${job_id}`)).toEqual(status);
      expect(receiver.requests.filter((r) => r.path === "/cancelled")).toHaveLength(1);
    });

    it("also reports an import that failed at planning, and leaves out large first errors", async () => {
      receiver.setHandler(() => ({ status: 204 }));
      const binary = await stored("sheet.xlsx", "PK\u0003\u0004binary-workbook");
      const failed = (await (
        await post(JSON.stringify({ file_type: "purchases", files: [{ key: binary, name: "sheet.xlsx" }], callback_url: `${receiver.url}/failed` }))
      ).json()) as Created;
      expect((await waitForImport<ImportStatus>(app, failed.job_id)).status).toBe("failed");
      const [hook] = await receiver.waitFor(1, (r) => r.path === "/failed", 20_000);
      expect(JSON.parse(hook?.text ?? "{}")).toMatchObject({ event: "import.finished", id: failed.job_id, status: "failed" });

      // Rows with long bad lines: 20 first errors of ~3 KB each would make a large body.
      const long = "x".repeat(3000);
      const bad = purchasesCsv(30, 30000)
        .split("\r\n")
        .map((line, i) => (i === 0 ? line : line.replace(",2,50000,", `,0,0,`).replace("Kabel, USB", `Kabel ${long}`)))
        .join("\r\n");
      const key = await stored("bad-rows.csv", bad);
      const created = (await (
        await post(JSON.stringify({ file_type: "purchases", files: [{ key, name: "bad-rows.csv" }], callback_url: `${receiver.url}/large` }))
      ).json()) as Created;
      const status = await waitForImport<ImportStatus>(app, created.job_id);
      expect(status.first_errors.length).toBeGreaterThan(10);
      const [large] = await receiver.waitFor(1, (r) => r.path === "/large", 20_000);
      const body = JSON.parse(large?.text ?? "{}") as Record<string, unknown>;
      expect(body).toMatchObject({ id: created.job_id, status: status.status, first_errors_omitted: true });
      expect(body).not.toHaveProperty("first_errors");
      expect(large?.body.length).toBeLessThan(32 * 1024);
    });
  });
});
