/**
 * The generator end to end: plan, write the purchase files (and, as the order clock
 * passes them, the settlement reports), then the outcome manifest and the summary.
 * See dev/generate.ts for what each output holds.
 */
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import path from "node:path";
import { BadDeck } from "./bad-rows.js";
import { isoDay, OrderClock, WINDOW_DAYS, WINDOW_START, DAY } from "./calendar.js";
import { Catalogue } from "./catalogue.js";
import { InvoiceCodes, SupplierCodes } from "./ids.js";
import { Ledger, OUTCOMES, type Outcome, type StoreCounts } from "./ledger.js";
import { type GenerateOptions, OptionsError } from "./options.js";
import { OrderFactory } from "./orders.js";
import { planFileSizes, planOverlaps, planStyles, writePurchases } from "./purchases.js";
import { Rng, Weighted } from "./rng.js";
import { SettlementBook } from "./settlements.js";
import { FileSink } from "./sink.js";
import { makeStores } from "./stores.js";
import { BAD_CODES, type BadCode, type FileEntry, WARNING_CODES } from "./summary-types.js";

/** Bump when the same options would give different bytes. */
export const GENERATOR_VERSION = 1;

const OUTPUTS = ["purchases", "settlements", "bad-rows.jsonl", "outcomes.csv", "summary.json"];

export interface Summary {
  /** options.format is there only for xlsx, so a CSV run's summary is as it always was. */
  generator: { version: number; options: Omit<GenerateOptions, "out" | "force" | "format"> & { format?: "xlsx" } };
  window: { from: string; to: string; timeZone: string };
  totals: {
    purchaseFiles: number;
    settlementFiles: number;
    rows: number;
    goodRows: number;
    rejectedRows: number;
    warningRows: number;
    badRowsByCode: Record<BadCode, number>;
    skippedLines: { blank: number; delimiterOnly: number; repeatedHeader: number; totals: number };
    orders: number;
    crossFileRepeats: number;
    landedLines: number;
    invoices: number;
    splitInvoices: number;
    settlementRows: number;
    orphanSettlements: number;
    expectedMargin: number;
    linePrice: number;
    lineCost: number;
    outcomes: Record<Outcome, number>;
    ordersByStatus: StoreCounts["ordersByStatus"];
  };
  stores: Array<{ name: string; username: string; channel: string; weight: number } & StoreCounts>;
  files: FileEntry[];
}

async function prepareOut(out: string, force: boolean): Promise<void> {
  await mkdir(out, { recursive: true });
  const entries = await readdir(out);
  if (entries.length > 0) {
    if (!force) throw new OptionsError(`${out} is not empty (add --force to replace an earlier generator run there)`);
    for (const entry of entries.filter((e) => OUTPUTS.includes(e))) await rm(path.join(out, entry), { recursive: true, force: true });
  }
}

export async function generate(options: GenerateOptions): Promise<Summary> {
  const { seed } = options;
  await prepareOut(options.out, options.force);
  await mkdir(path.join(options.out, "purchases"));
  if (options.settlements) await mkdir(path.join(options.out, "settlements"));

  const stores = makeStores(new Rng(seed, "stores"), options.stores);
  const catalogue = new Catalogue(new Rng(seed, "catalogue"));
  const clock = new OrderClock(new Rng(seed, "clock"));
  const ledger = new Ledger(stores.length, options.rows);
  const invoices = new InvoiceCodes(seed);
  const factory = new OrderFactory(new Rng(seed, "orders"), catalogue, stores, new SupplierCodes(new Rng(seed, "codes")), invoices, ledger);
  const storeWeights = new Weighted(
    stores.map((_, i) => i),
    stores.map((s) => s.weight),
  );
  const settlements = options.settlements
    ? new SettlementBook(
        new Rng(seed, "settlements"),
        stores,
        storeWeights,
        ledger,
        invoices,
        path.join(options.out, "settlements"),
        (rng) => catalogue.sku(catalogue.draw(rng)).unitPrice,
        options.format ?? "csv",
      )
    : null;
  const fileRng = new Rng(seed, "files");
  const sizes = planFileSizes(fileRng, options.rows, options.files);
  const styles = planStyles(fileRng, options.files);
  const overlaps = planOverlaps(fileRng, sizes);
  const badRows = new FileSink(path.join(options.out, "bad-rows.jsonl"));

  const purchases = await writePurchases({
    dir: options.out,
    rows: options.rows,
    badRate: options.badRate,
    sizes,
    overlaps,
    styles,
    rng: new Rng(seed, "structure"),
    factory,
    clock,
    ledger,
    deck: new BadDeck(new Rng(seed, "bad-deck")),
    settlements,
    badRows,
  });
  await settlements?.finish();
  const badWritten = await badRows.close();

  // The expected outcome of every (store, invoice), in invoice order.
  const outcomesSink = new FileSink(path.join(options.out, "outcomes.csv"));
  await outcomesSink.write("store,invoice,outcome,expected,actual,diff,split_invoice,order_date\n");
  const outcomeTotals = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  let outcomeRows = 0;
  for (const row of ledger.outcomes()) {
    outcomeTotals[row.outcome]++;
    outcomeRows++;
    const diff = row.expected !== null && row.actual !== null ? String(row.actual - row.expected) : "";
    await outcomesSink.write(
      `${stores[row.store]?.name},${invoices.invoice(row.invoiceCode, row.day)},${row.outcome},${row.expected ?? ""},${row.actual ?? ""},${diff},${row.splitInvoice},${isoDay(row.day)}\n`,
    );
  }
  const outcomesWritten = await outcomesSink.close();

  const sum = (pick: (s: StoreCounts) => number) => ledger.stores.reduce((total, s) => total + pick(s), 0);
  const rejectedRows = BAD_CODES.filter((c) => !WARNING_CODES.has(c)).reduce((n, c) => n + purchases.badByCode[c], 0);
  const warningRows = BAD_CODES.filter((c) => WARNING_CODES.has(c)).reduce((n, c) => n + purchases.badByCode[c], 0);
  const badCount = BAD_CODES.reduce((n, c) => n + purchases.badByCode[c], 0);
  const files: FileEntry[] = [
    ...purchases.files,
    ...(settlements?.files ?? []).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    { name: "bad-rows.jsonl", file_type: "manifest", rows: badCount, lines: badCount, ...badWritten },
    { name: "outcomes.csv", file_type: "manifest", rows: outcomeRows, lines: outcomeRows + 1, ...outcomesWritten },
  ];
  const summary: Summary = {
    generator: {
      version: GENERATOR_VERSION,
      options: {
        rows: options.rows,
        files: options.files,
        seed,
        badRate: options.badRate,
        stores: options.stores,
        settlements: options.settlements,
        ...(options.format === "xlsx" ? { format: "xlsx" as const } : {}),
      },
    },
    window: { from: isoDay(WINDOW_START / DAY), to: isoDay(WINDOW_START / DAY + WINDOW_DAYS - 1), timeZone: "Asia/Jakarta" },
    totals: {
      purchaseFiles: purchases.files.length,
      settlementFiles: settlements?.files.length ?? 0,
      rows: purchases.rows,
      goodRows: purchases.rows - rejectedRows,
      rejectedRows,
      warningRows,
      badRowsByCode: purchases.badByCode,
      skippedLines: purchases.skipped,
      orders: ledger.orders,
      crossFileRepeats: purchases.crossFileRepeats,
      landedLines: sum((s) => s.landedLines),
      invoices: sum((s) => s.invoices),
      splitInvoices: sum((s) => s.splitInvoices),
      settlementRows: settlements?.rows ?? 0,
      orphanSettlements: settlements?.orphans ?? 0,
      expectedMargin: sum((s) => s.margin),
      linePrice: sum((s) => s.linePrice),
      lineCost: sum((s) => s.lineCost),
      outcomes: outcomeTotals,
      ordersByStatus: {
        completed: sum((s) => s.ordersByStatus.completed),
        cancelled: sum((s) => s.ordersByStatus.cancelled),
        returned: sum((s) => s.ordersByStatus.returned),
        in_progress: sum((s) => s.ordersByStatus.in_progress),
      },
    },
    stores: stores.map((store, i) => ({
      name: store.name,
      username: store.username,
      channel: store.channel,
      weight: store.weight,
      ...(ledger.stores[i] as StoreCounts),
    })),
    files,
  };
  await writeFile(path.join(options.out, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

/** sha256 over every output file's name and hash: one fingerprint of a whole run. */
export function fingerprint(summary: Summary): string {
  const hash = createHash("sha256");
  for (const file of summary.files) hash.update(`${file.name}\u0000${file.sha256}\n`);
  return hash.digest("hex");
}
