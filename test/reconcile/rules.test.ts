/**
 * Each reconcile rule on invoices made for it, landed through the import API: the
 * precedence (a cancelled purchase that was settled, a return with no settlement, a
 * refund on a settled order, a split invoice that mismatches, an unknown status),
 * tolerance and the status filter; then the run's neighbours: Idempotency-Key, the 409
 * while an import writes, reconcile after import, and one invoice looked up whole.
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PURCHASE_COLUMNS, SETTLEMENT_COLUMNS } from "../../lib/imports/csv/headers.js";
import { newImportKey } from "../../lib/storage/index.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { availablePostgres } from "../support/databases.js";
import { waitForImport, waitForStatus } from "../support/job-status.js";

const TOKEN = "reconcile-rules-token-0123456789";
const postgres = availablePostgres();
const STORE = "Toko Aturan";

interface Purchase {
  order: number;
  invoice: string;
  status: string;
  price: number;
  day?: string;
  store?: string;
}

function purchasesCsv(purchases: Purchase[]): string {
  const header = PURCHASE_COLUMNS.map((column) => column.header).join(",");
  const rows = purchases.map(
    (p, i) =>
      `${i + 1},${p.day ?? "03 March 2025"} 14:05:09,${p.status},${p.order},${p.order + 1000},SKU-${p.order},Produk ${p.order},` +
      `25000,1,25000,0,2000,27000,${p.price},${p.price},${p.price - 25000},ops,Shopee,${p.store ?? STORE},${p.invoice},` +
      "Jakarta,JNE,Ya,,,DKI Jakarta,Jakarta Barat",
  );
  return [header, ...rows].join("\r\n");
}

interface Settlement {
  invoice: string;
  harga: number;
  refund?: number;
}

function settlementsCsv(settlements: Settlement[]): string {
  const header = SETTLEMENT_COLUMNS.map((column) => (column.header.includes(",") ? `"${column.header}"` : column.header));
  const value = (field: string, s: Settlement): string => {
    if (field === "order_sn") return s.invoice;
    if (field === "ordered_on") return "2025-03-03";
    if (field === "payout_date") return "2025-03-10";
    if (field === "gross_product_price") return String(s.harga);
    if (field === "buyer_refund") return String(s.refund ?? 0);
    if (field === "net_payout") return String(s.harga - 5000 + (s.refund ?? 0));
    if (field === "shipping_service" || field === "courier_name") return "JNE";
    return "0";
  };
  const rows = settlements.map((s) => SETTLEMENT_COLUMNS.map((column) => value(column.field, s)).join(","));
  return [header.join(","), ...rows].join("\r\n");
}

// Each invoice is named for the rule it exercises.
const PURCHASES: Purchase[] = [
  { order: 101, invoice: "250303MATCHED1", status: "  PESANAN   Selesai ", price: 80000 },
  { order: 102, invoice: "250303CANCELST", status: "Pesanan dibatalkan", price: 50000 },
  { order: 103, invoice: "250303RETURNNO", status: "Pesanan dikembalikan", price: 60000 },
  { order: 104, invoice: "250303REFUNDED", status: "Pesanan selesai", price: 70000 },
  { order: 105, invoice: "250303SPLITMIS", status: "Pesanan selesai", price: 40000 },
  { order: 106, invoice: "250303SPLITMIS", status: "Dikirim", price: 30000 },
  { order: 107, invoice: "250303UNKNOWN1", status: "Menunggu Konfirmasi Gudang", price: 45000 },
  { order: 108, invoice: "250303MISSING1", status: "Selesai", price: 55000 },
  { order: 109, invoice: "250303CANCELED", status: "Batal", price: 35000 },
  { order: 110, invoice: "250303TOLERANC", status: "Pesanan selesai", price: 100000 },
  { order: 111, invoice: "250303HALFCANC", status: "Pesanan selesai", price: 90000 },
  { order: 112, invoice: "250303HALFCANC", status: "Dibatalkan", price: 20000 },
];
const SETTLEMENTS: Settlement[] = [
  { invoice: "250303MATCHED1", harga: 80000 },
  { invoice: "250303CANCELST", harga: 50000 },
  { invoice: "250303REFUNDED", harga: 70000, refund: -70000 },
  { invoice: "250303SPLITMIS", harga: 65000 },
  { invoice: "250303TOLERANC", harga: 99990 },
  { invoice: "250303HALFCANC", harga: 90000 },
  { invoice: "250303ORPHAN01", harga: 25000 },
];

/** GET /api/invoices/:invoice, or its problem. */
interface InvoiceBody {
  store: string;
  invoice: string;
  order_date: string | null;
  purchases: Array<Record<string, unknown> & { order_code: string; status_class: string; lines: unknown[] }>;
  settlement: Record<string, unknown> | null;
  outcome: (Record<string, unknown> & { outcome: string; reconcile_url: string }) | null;
  error: { message: string; fields: Array<{ field: string; location: string }> };
}

interface Result {
  invoice: string;
  outcome: string;
  expected: number | null;
  actual: number | null;
  diff: number | null;
  split_invoice: boolean;
}

describe.skipIf(!postgres)("reconcile rules", () => {
  let app: AppServer;

  const importCsv = async (body: Record<string, unknown>, name: string, text: string) => {
    const key = newImportKey(name);
    await app.server.runtime.objectStore().put(key, Buffer.from(text), { contentType: "text/csv" });
    const created = await app.api("/api/imports", { method: "POST", body: JSON.stringify({ ...body, files: [{ key, name }] }) });
    expect(created.status).toBe(202);
    const { job_id } = (await created.json()) as { job_id: string };
    return { job_id, status: await waitForImport<{ status: string; reconcile_job_id: string | null }>(app, job_id) };
  };

  const runOf = async (jobId: string) =>
    waitForStatus(async () => (await (await app.api(`/api/reconcile/${jobId}`)).json()) as { status: string; counts: Record<string, number>; aging: Record<string, number> });

  const reconcile = async (body: Record<string, unknown>) => {
    const created = await app.api("/api/reconcile", { method: "POST", body: JSON.stringify(body) });
    expect(created.status).toBe(202);
    const { job_id } = (await created.json()) as { job_id: string };
    const status = await runOf(job_id);
    const page = (await (await app.api(`/api/reconcile/${job_id}/results?limit=1000`)).json()) as { results: Result[] };
    return { job_id, status, results: new Map(page.results.map((r) => [r.invoice, r])) };
  };

  beforeAll(async () => {
    app = await startAppServer(TOKEN);
    expect((await importCsv({ file_type: "purchases" }, "purchases.csv", purchasesCsv(PURCHASES))).status.status).toBe("completed");
    expect(
      (await importCsv({ file_type: "settlements", store: STORE }, "income.csv", settlementsCsv(SETTLEMENTS))).status.status,
    ).toBe("completed");
  }, 60_000);
  afterAll(() => app?.close());

  it("decides each invoice by the first rule that applies", async () => {
    const { status, results } = await reconcile({});
    expect(status.status).toBe("completed");
    const decided = (invoice: string) => {
      const r = results.get(invoice);
      return r && { outcome: r.outcome, expected: r.expected, actual: r.actual, diff: r.diff, split: r.split_invoice };
    };
    // Spaces and case do not change a status's class.
    expect(decided("250303MATCHED1")).toEqual({ outcome: "matched", expected: 80000, actual: 80000, diff: 0, split: false });
    // A cancelled purchase that was settled: nothing was expected, something was paid.
    expect(decided("250303CANCELST")).toEqual({ outcome: "amount_mismatch", expected: 0, actual: 50000, diff: 50000, split: false });
    // A return with no settlement is a return, not a missing settlement.
    expect(decided("250303RETURNNO")).toEqual({ outcome: "returned", expected: 60000, actual: null, diff: null, split: false });
    // A refund on a settled order is a return, even though the amounts match.
    expect(decided("250303REFUNDED")?.outcome).toBe("returned");
    // A split invoice is summed over its orders and flagged.
    expect(decided("250303SPLITMIS")).toEqual({ outcome: "amount_mismatch", expected: 70000, actual: 65000, diff: -5000, split: true });
    // An unknown status is in progress: nothing is late yet.
    expect(decided("250303UNKNOWN1")).toEqual({ outcome: "in_progress", expected: 45000, actual: null, diff: null, split: false });
    expect(decided("250303MISSING1")?.outcome).toBe("missing_settlement");
    expect(decided("250303CANCELED")).toEqual({ outcome: "cancelled", expected: 0, actual: null, diff: null, split: false });
    expect(decided("250303TOLERANC")?.outcome).toBe("amount_mismatch");
    // A cancelled order of a split invoice is not expected to be paid.
    expect(decided("250303HALFCANC")).toEqual({ outcome: "matched", expected: 90000, actual: 90000, diff: 0, split: true });
    expect(decided("250303ORPHAN01")).toEqual({ outcome: "orphan_settlement", expected: null, actual: 25000, diff: null, split: false });
    expect(results.size).toBe(11);
    // The missing settlement is from March 2025: long overdue.
    expect(status.aging).toEqual({ "0-7": 0, "8-14": 0, "15-30": 0, "31+": 1 });
  });

  it("matches within the tolerance, and filters by status class (no orphans then)", async () => {
    const tolerant = await reconcile({ tolerance: 10 });
    expect(tolerant.results.get("250303TOLERANC")?.outcome).toBe("matched");
    const cancelled = await reconcile({ status: "cancelled", store: STORE.toUpperCase() });
    expect([...cancelled.results.keys()].sort()).toEqual(["250303CANCELED", "250303CANCELST", "250303HALFCANC"]);
  });

  it("lists runs newest first, page by page, by status", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/api/reconcile?status=completed&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = (await (await app.api(query)).json()) as { runs: Array<{ id: string; status: string; counts: Record<string, number> }>; next_cursor: string | null };
      for (const run of page.runs) {
        expect(run.status).toBe("completed");
        expect(Object.keys(run.counts)).toHaveLength(7);
        seen.push(run.id);
      }
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen).toEqual([...seen].sort().reverse());
    expect((await app.api("/api/reconcile?cursor=bogus")).status).toBe(400);
    const imports = (await (await app.api("/api/imports?limit=1&status=completed")).json()) as { imports: unknown[]; next_cursor: string | null };
    expect(imports.imports).toHaveLength(1);
    expect(imports.next_cursor).not.toBeNull();
  });

  it("honours Idempotency-Key: the same request gets the same run, another request under the key a 409", async () => {
    const key = randomUUID();
    const send = (body: unknown) =>
      app.api("/api/reconcile", { method: "POST", headers: { "idempotency-key": key }, body: JSON.stringify(body) });
    const first = await send({ tolerance: 5 });
    const again = await send({ tolerance: 5 });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(((await again.json()) as { job_id: string }).job_id).toBe(((await first.json()) as { job_id: string }).job_id);
    expect((await send({ tolerance: 6 })).status).toBe(409);
  });

  it("refuses to start (409 import_running) while an import writes to what it would read", async () => {
    const { db } = await app.server.runtime.database();
    // An import in flight, as the engine records one: a settlement import for another store.
    const other = randomUUID();
    const params = (fileType: string, storeId: number | null) =>
      JSON.stringify({ file_type: fileType, store_id: storeId, files: [{ id: randomUUID(), key: "imports/x/a.csv", name: "a.csv", size: 1, position: 0 }] });
    await db.execute(sql`insert into jobs (id, kind, status, params) values (${other}, 'import', 'running', ${params("settlements", 999_999)}::jsonb)`);
    // Over every store: in the way.
    const all = await app.api("/api/reconcile", { method: "POST", body: "{}" });
    expect(all.status).toBe(409);
    expect(((await all.json()) as { error: { code: string; job_id: string } }).error).toMatchObject({ code: "import_running", job_id: other });
    // Over this store: another store's settlements are not in the way.
    expect((await app.api("/api/reconcile", { method: "POST", body: JSON.stringify({ store: STORE }) })).status).toBe(202);
    // A purchase import may write to any store.
    await db.execute(sql`update jobs set params = ${params("purchases", null)}::jsonb where id = ${other}`);
    const blocked = await app.api("/api/reconcile", { method: "POST", body: JSON.stringify({ store: STORE }) });
    expect(blocked.status).toBe(409);
    await db.execute(sql`update jobs set status = 'completed', finished_at = now() where id = ${other}`);
    expect((await app.api("/api/reconcile", { method: "POST", body: JSON.stringify({ store: STORE }) })).status).toBe(202);
  });

  it("starts a run after an import that asks for one, over what it landed; its counts equal a manual run's", async () => {
    const store = "Toko Setelah";
    const purchases: Purchase[] = [
      { order: 201, invoice: "250305AFTER001", status: "Pesanan selesai", price: 30000, day: "05 March 2025", store },
      { order: 202, invoice: "250306AFTER002", status: "Dikemas", price: 31000, day: "06 March 2025", store },
      { order: 203, invoice: "250307AFTER003", status: "Batal", price: 32000, day: "07 March 2025", store },
    ];
    const landed = await importCsv({ file_type: "purchases", reconcile: true }, "after.csv", purchasesCsv(purchases));
    const withRun = await waitForImport<{ status: string; reconcile_job_id: string | null }>(app, landed.job_id, {
      until: (view) => view.reconcile_job_id !== null,
    });
    const auto = await runOf(withRun.reconcile_job_id as string);
    expect(auto.status).toBe("completed");
    expect(auto.counts).toMatchObject({ missing_settlement: 1, in_progress: 1, cancelled: 1 });
    const manual = await reconcile({ store, from: "2025-03-05", to: "2025-03-07" });
    expect(auto.counts).toEqual(manual.status.counts);

    // The same file again lands nothing, and starts no run (given the time the first took to start one).
    const again = await importCsv({ file_type: "purchases", reconcile: true }, "after-again.csv", purchasesCsv(purchases));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const view = (await (await app.api(`/api/imports/${again.job_id}`)).json()) as { reconcile: boolean; reconcile_job_id: string | null };
    expect(view).toMatchObject({ reconcile: true, reconcile_job_id: null });
  });

  it("GET /api/invoices/:invoice shows one invoice whole: purchases with lines, settlement, current outcome and its run", async () => {
    const latest = await reconcile({});
    const lookup = async (path: string) => {
      const response = await app.api(path);
      return { status: response.status, body: (await response.json()) as InvoiceBody };
    };
    const split = await lookup("/api/invoices/250303SPLITMIS");
    expect(split.status).toBe(200);
    expect(split.body).toMatchObject({ store: STORE, invoice: "250303SPLITMIS", order_date: "2025-03-03" });
    expect(split.body.purchases.map((p) => [p.order_code, p.status_class])).toEqual([
      ["105", "completed"],
      ["106", "in_progress"],
    ]);
    expect(split.body.purchases[0]).toMatchObject({ status: "Pesanan selesai", other_fee: 0, partner_fee: 2000, order_total: 27000, ordered_at: "2025-03-03T07:05:09.000Z" });
    expect(split.body.purchases[0]?.lines).toEqual([
      { line_no: 1, sku: "SKU-105", product_name: "Produk 105", unit_cost: 25000, qty: 1, line_cost: 25000, unit_price: 40000, line_price: 40000, line_margin: 15000 },
    ]);
    expect(split.body.settlement).toMatchObject({ ordered_on: "2025-03-03", payout_date: "2025-03-10", gross_product_price: 65000, admin_fee: 0, net_payout: 60000, courier_name: "JNE" });
    expect(split.body.outcome).toMatchObject({
      outcome: "amount_mismatch",
      expected: 70000,
      actual: 65000,
      diff: -5000,
      split_invoice: true,
      job_id: latest.job_id,
      reconcile_url: `/api/reconcile/${latest.job_id}`,
    });
    expect((await app.api(split.body.outcome?.reconcile_url ?? "")).status).toBe(200);
    // A pasted spreadsheet guard and the store in another case find the same invoice.
    expect((await lookup(`/api/invoices/'250303SPLITMIS?store=${encodeURIComponent(STORE.toLowerCase())}`)).body).toEqual(split.body);

    const orphan = await lookup("/api/invoices/250303ORPHAN01");
    expect(orphan.body).toMatchObject({ purchases: [], order_date: "2025-03-03", outcome: { outcome: "orphan_settlement" } });
    expect(orphan.body.settlement?.gross_product_price).toBe(25000);

    expect((await lookup("/api/invoices/250303NOSUCH00")).status).toBe(404);
    expect((await lookup(`/api/invoices/250303MATCHED1?store=${encodeURIComponent("Toko Setelah")}`)).status).toBe(404);
    const unknownStore = await lookup("/api/invoices/250303MATCHED1?store=Nowhere");
    expect(unknownStore.status).toBe(400);
    expect(unknownStore.body.error.fields[0]?.field).toBe("store");

    // The same number in a second store: which one must be said.
    const other = "Toko Kembar";
    await importCsv({ file_type: "purchases" }, "twin.csv", purchasesCsv([{ order: 301, invoice: "250303MATCHED1", status: "Dikemas", price: 10000, store: other }]));
    const ambiguous = await lookup("/api/invoices/250303MATCHED1");
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.body.error.fields[0]).toMatchObject({ field: "store", location: "query" });
    expect(ambiguous.body.error.message).toContain(other);
    const twin = await lookup(`/api/invoices/250303MATCHED1?store=${encodeURIComponent(other)}`);
    expect(twin.body).toMatchObject({ store: other, settlement: null, outcome: null });
    expect(twin.body.purchases).toHaveLength(1);

    for (const authorization of [undefined, "Bearer wrong-token-0123456789"]) {
      const response = await fetch(`${app.base}/api/invoices/250303SPLITMIS`, { headers: authorization ? { authorization } : {} });
      expect(response.status).toBe(401);
    }
  });
});
