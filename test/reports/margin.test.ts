/**
 * The margin report, after a reconcile run over everything, against sums this test
 * computes from the generated files themselves (test/generate/reference.ts reads them by the import's rules; nothing here
 * reads the database): totals, each month and store, each SKU's orders and unsettled
 * amount, the filters, the CSV download with its TOTAL row, and bad queries.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Papa from "papaparse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, type Summary } from "../../dev/generate/run.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { availablePostgres } from "../support/databases.js";
import { importGenerated } from "../support/generated-data.js";
import { waitForStatus } from "../support/job-status.js";
import { readPurchaseFile, readSettlement, type RefOrder, statusClass, storeKey } from "../generate/reference.js";

const TOKEN = "margin-test-token-0123456789";
const postgres = availablePostgres();

/** The report's money columns, and the settlement header each comes from. */
const SETTLED = {
  gross_sales: "Harga Asli Produk",
  admin_fee: "Biaya Administrasi",
  service_fee: "Biaya Layanan (termasuk PPN 11%)",
  ams_commission: "Biaya Komisi AMS",
  program_fee: "Biaya Program",
  campaign_fee: "Biaya Kampanye",
  seller_voucher: "Diskon Voucher Ditanggung Penjual",
  net_payout: "Total Penghasilan",
  refunds: "Jumlah Pengembalian Dana ke Pembeli",
} as const;
type Settled = Record<keyof typeof SETTLED, number>;
const FIGURES = [
  "orders",
  ...(Object.keys(SETTLED) as Array<keyof typeof SETTLED>),
  "supplier_cost",
  "net_margin",
  "unsettled",
] as const;
type Figures = Record<(typeof FIGURES)[number], number>;

interface RefInvoice {
  store: string;
  day: string;
  orders: RefOrder[];
  settled: (Settled & { orderedOn: string }) | null;
}

interface Report {
  group: string;
  filters: Record<string, string | null>;
  rows: Array<Figures & { key: string | null; net_margin_pct: number | null }>;
  totals: Figures & { net_margin_pct: number | null };
}

const zero = (): Figures => Object.fromEntries(FIGURES.map((name) => [name, 0])) as Figures;
/** Jakarta wall-clock seconds (as reference.ts parses them) to the day. */
const dayOf = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10);
const live = (order: RefOrder) => statusClass(order.status) !== "cancelled";
/** An order's other and partner fee: from the first line that has each (the import's rule). */
const orderFees = (order: RefOrder) =>
  [0, 1].reduce((sum, i) => sum + Number(order.lines.find((line) => line.money[i] !== "")?.money[i] ?? 0), 0);

/** One invoice's figures by the report's definitions (docs/data.md, "Margin report"). */
function figuresOf(invoice: RefInvoice): Figures {
  const f = zero();
  const liveOrders = invoice.orders.filter(live);
  f.orders = invoice.settled !== null || liveOrders.length > 0 ? 1 : 0;
  for (const name of Object.keys(SETTLED) as Array<keyof Settled>) f[name] = invoice.settled?.[name] ?? 0;
  f.supplier_cost = liveOrders.reduce((sum, o) => sum + o.lines.reduce((t, l) => t + l.lineCost, 0) + orderFees(o), 0);
  f.net_margin = f.net_payout - f.supplier_cost;
  const classes = invoice.orders.map((o) => statusClass(o.status));
  if (invoice.settled === null && !classes.includes("returned") && classes.includes("completed")) {
    f.unsettled = liveOrders.reduce((sum, o) => sum + o.lines.reduce((t, l) => t + l.linePrice, 0), 0);
  }
  return f;
}

function add(into: Figures, more: Figures): Figures {
  for (const name of FIGURES) into[name] += more[name];
  return into;
}

const withoutPct = ({ net_margin_pct: _pct, ...figures }: Figures & { net_margin_pct: number | null }) => figures;

describe.skipIf(!postgres)("GET /api/reports/margin against the generated files", () => {
  let app: AppServer;
  let summary: Summary;
  let invoices: RefInvoice[];

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dropflow-margin-"));
    const out = path.join(dir, "gen");
    summary = await generate({ rows: 6_000, files: 3, seed: "margin-1", badRate: 0.01, out, stores: 3, settlements: true, force: false });
    app = await startAppServer(TOKEN, { DROPFLOW_CHUNK_ROWS: "2000" }, { dataDir: path.join(dir, "data") });
    const landed = await importGenerated(app, summary, out);
    expect(landed.map((l) => l.status)).not.toContain("failed");
    // The report sums the invoices' current outcomes: reconcile everything first.
    const run = await app.api("/api/reconcile", { method: "POST", body: "{}" });
    const { status_url } = (await run.json()) as { status_url: string };
    const ended = await waitForStatus(async () => (await (await app.api(status_url)).json()) as { status: string });
    expect(ended.status).toBe("completed");

    // What the files say landed: a later file's version of an order wins.
    const canonical = new Map(summary.stores.map((s) => [storeKey(s.name), s.name]));
    const orders = new Map<string, RefOrder>();
    for (const name of readdirSync(path.join(out, "purchases")).sort()) {
      for (const [code, order] of readPurchaseFile(name, readFileSync(path.join(out, "purchases", name), "utf8")).orders) orders.set(code, order);
    }
    const byKey = new Map<string, RefInvoice>();
    for (const order of orders.values()) {
      const key = `${order.store}|${order.invoice}`;
      const invoice = byKey.get(key) ?? { store: canonical.get(order.store) ?? order.store, day: dayOf(order.orderedAt), orders: [], settled: null };
      invoice.orders.push(order);
      if (dayOf(order.orderedAt) < invoice.day) invoice.day = dayOf(order.orderedAt);
      byKey.set(key, invoice);
    }
    const storeOf = new Map(summary.stores.map((s) => [s.username, s.name]));
    for (const name of readdirSync(path.join(out, "settlements")).sort()) {
      const report = readSettlement(readFileSync(path.join(out, "settlements", name), "utf8"));
      const store = storeOf.get(report.username) as string;
      const column = (header: string) => report.header.indexOf(header);
      for (const row of report.rows) {
        const settled = Object.fromEntries(
          Object.entries(SETTLED).map(([figure, header]) => [figure, Number(row[column(header)])]),
        ) as Settled;
        const orderedOn = row[column("Waktu Pesanan Dibuat")] as string;
        const key = `${storeKey(store)}|${row[column("No. Pesanan")]}`;
        const invoice = byKey.get(key) ?? { store, day: orderedOn, orders: [], settled: null };
        invoice.settled = { ...settled, orderedOn };
        byKey.set(key, invoice);
      }
    }
    invoices = [...byKey.values()];
  }, 180_000);
  afterAll(() => app?.close());

  const report = async (query: string): Promise<Report> => {
    const response = await app.api(`/api/reports/margin${query}`);
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as Report;
  };
  const sumOf = (list: RefInvoice[]) => list.reduce((sum, invoice) => add(sum, figuresOf(invoice)), zero());

  it("has totals equal to the files' sums, and a row per month that sums the month's invoices", async () => {
    const body = await report("");
    expect(body.group).toBe("month");
    const expected = sumOf(invoices);
    expect(expected.gross_sales).toBeGreaterThan(0);
    expect(expected.unsettled).toBeGreaterThan(0);
    expect(withoutPct(body.totals)).toEqual(expected);
    expect(body.totals.net_margin_pct).toBe(Math.round((expected.net_margin / expected.gross_sales) * 10_000) / 100);

    const months = [...new Set(invoices.map((i) => i.day.slice(0, 7)))].sort();
    expect(body.rows.map((r) => r.key)).toEqual(months);
    for (const row of body.rows) {
      expect(withoutPct(row), row.key ?? "").toEqual({ key: row.key, ...sumOf(invoices.filter((i) => i.day.startsWith(row.key as string))) });
    }
  });

  it("groups by store, each store's row its invoices' sums", async () => {
    const body = await report("?group=store");
    expect(body.rows.map((r) => r.key)).toEqual(summary.stores.map((s) => s.name).sort());
    for (const row of body.rows) {
      expect(withoutPct(row)).toEqual({ key: row.key, ...sumOf(invoices.filter((i) => i.store === row.key)) });
    }
    expect(withoutPct(body.totals)).toEqual(sumOf(invoices));
  });

  it("groups by SKU: settlement amounts shared out to the whole rupiah, orders and unsettled per SKU exact", async () => {
    const body = await report("?group=sku");
    expect(withoutPct(body.totals)).toEqual(sumOf(invoices));
    // The rows add up to the totals exactly, orders apart (an invoice of two SKUs counts once in the total).
    const summed = body.rows.reduce((sum, row) => add(sum, withoutPct(row) as unknown as Figures), zero());
    for (const name of FIGURES.filter((n) => n !== "orders")) expect(summed[name], name).toBe(body.totals[name]);

    const perSku = new Map<string | null, { invoices: Set<RefInvoice>; unsettled: number; lineCost: number }>();
    const entry = (sku: string | null) => perSku.get(sku) ?? perSku.set(sku, { invoices: new Set(), unsettled: 0, lineCost: 0 }).get(sku)!;
    for (const invoice of invoices) {
      const lines = invoice.orders.filter(live).flatMap((o) => o.lines);
      const f = figuresOf(invoice);
      if (lines.length === 0) {
        if (f.orders === 1) entry(null).invoices.add(invoice);
        continue;
      }
      for (const line of lines) {
        const e = entry(line.sku);
        if (f.orders === 1) e.invoices.add(invoice);
        if (f.unsettled > 0) e.unsettled += line.linePrice;
        e.lineCost += line.lineCost;
      }
    }
    expect(body.rows.length).toBe(perSku.size);
    for (const row of body.rows) {
      const want = perSku.get(row.key);
      expect(want, `sku ${row.key}`).toBeDefined();
      expect(row.orders, `orders of ${row.key}`).toBe(want?.invoices.size);
      expect(row.unsettled, `unsettled of ${row.key}`).toBe(want?.unsettled);
      // Supplier cost is the lines' cost plus a share of their orders' fees (never negative here).
      expect(row.supplier_cost, `supplier cost of ${row.key}`).toBeGreaterThanOrEqual(want?.lineCost ?? 0);
    }
  });

  it("filters by store and order date like a reconcile run", async () => {
    const store = summary.stores[1]?.name as string;
    const days = invoices.map((i) => i.day).sort();
    const from = days[Math.floor(days.length / 4)] as string;
    const to = days[Math.floor((days.length * 3) / 4)] as string;
    const body = await report(`?store=${encodeURIComponent(store.toUpperCase())}&from=${from}&to=${to}&group=store`);
    expect(body.filters).toEqual({ store, from, to });
    const scoped = invoices.filter((i) => i.store === store && i.day >= from && i.day <= to);
    expect(scoped.length).toBeGreaterThan(0);
    expect(body.rows.map((r) => r.key)).toEqual([store]);
    expect(withoutPct(body.totals)).toEqual(sumOf(scoped));

    const none = await report("?from=1990-01-01&to=1990-12-31");
    expect(none.rows).toEqual([]);
    expect(withoutPct(none.totals)).toEqual(zero());
    expect(none.totals.net_margin_pct).toBeNull();
  });

  it("downloads the same report as CSV with a TOTAL row", async () => {
    const body = await report("?group=store");
    const response = await app.api("/api/reports/margin?group=store&format=csv");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(response.headers.get("content-disposition")).toContain('filename="margin-by-store.csv"');
    const text = (await response.text()).replace(/^\uFEFF/, "");
    const parsed = Papa.parse<string[]>(text.trim(), { skipEmptyLines: true }).data;
    expect(parsed[0]).toEqual(["store", "orders", "gross_sales", "admin_fee", "service_fee", "ams_commission", "program_fee", "campaign_fee", "seller_voucher", "net_payout", "supplier_cost", "refunds", "net_margin", "net_margin_pct", "unsettled"]);
    const header = parsed[0] as string[];
    const asRow = (cells: string[]) => Object.fromEntries(header.map((h, i) => [h, cells[i]]));
    const expectCells = (cells: string[], figures: Report["totals"], key: string) => {
      const row = asRow(cells);
      expect(row.store).toBe(key);
      for (const name of header.slice(1)) {
        const value = figures[name as keyof Report["totals"]];
        expect(row[name], `${key} ${name}`).toBe(value === null ? "" : String(value));
      }
    };
    expect(parsed.length).toBe(body.rows.length + 2);
    body.rows.forEach((row, i) => expectCells(parsed[i + 1] as string[], row, row.key as string));
    expectCells(parsed.at(-1) as string[], body.totals, "TOTAL");
  });

  it("answers 401 without a valid token and 400 naming the field for a bad query", async () => {
    for (const authorization of [undefined, "Bearer wrong-token-0123456789", "Basic abc"]) {
      const response = await fetch(`${app.base}/api/reports/margin`, { headers: authorization ? { authorization } : {} });
      expect(response.status).toBe(401);
    }
    const cases: Array<[string, string]> = [
      ["?group=week", "group"],
      ["?from=2025-02-30", "from"],
      ["?from=2025-05-02&to=2025-05-01", "from"],
      ["?store=No%20Such%20Store", "store"],
      ["?limit=5", "limit"],
      ["?format=xlsx", "format"],
    ];
    for (const [query, field] of cases) {
      const response = await app.api(`/api/reports/margin${query}`);
      expect(response.status, query).toBe(400);
      const problem = (await response.json()) as { error: { fields?: Array<{ field: string }> } };
      expect(problem.error.fields?.map((f) => f.field), query).toContain(field);
    }
  });
});
