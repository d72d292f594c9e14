/**
 * `npm run generate`: a synthetic, deterministic data set for dropflow, shaped like
 * real sellers' exports (test/generate/generate.test.ts checks the shape).
 *
 *   npm run generate -- --rows N --files F --seed S --bad-rate R --out DIR
 *                       [--stores 5] [--settlements true] [--format csv|xlsx] [--force]
 *
 * Defaults: --rows 20000 --files 10 --seed 1 --bad-rate 0.01 --stores 5
 * --settlements true --format csv. --format xlsx writes the settlement reports as
 * workbooks instead of CSV (see below); purchase files are CSV either way, and every
 * other output is the same as with csv. --out is required and must be empty
 * (--force removes an earlier run's outputs there first). The last line printed is
 * one JSON object with the run's figures (seconds, peak RSS).
 *
 * OUTPUT (all under DIR)
 *
 * purchases/jakmall-orders-0001.csv …  Jakmall order exports: the 27
 *   headers in row 1, one row per order line, `No` running number, `DD Month YYYY,
 *   HH:MM:SS` dates. Per file: `,` or `;` (~8 %), LF or CRLF (~40 %), BOM (~30 %),
 *   order money on every line (30 % of files) or on the first line only (the rest:
 *   later lines blank or 0), quote-everything (~10 %), a leading `'` on the invoice
 *   (~30 %) or the digit codes (~15 %), a repeated header mid-file, blank lines,
 *   delimiter-only rows, a trailing blank line and/or totals line. Product names
 *   carry commas, quotes, line breaks (written with the file's own line ending),
 *   semicolons and non-ASCII. Import them in name order: later files re-export
 *   orders of earlier ones (the overlap of real export windows, 3–12 % of a file),
 *   with a later status, and the later file wins.
 *
 * settlements/shopee-income-<username>-<from>_<to>.csv  Shopee income reports, one
 *   per store and half-month of payout date (1st–15th, 16th–end), in the layout of
 *   a real report's Income sheet saved as "CSV UTF-8": BOM, CRLF, 39 fields per line,
 *   preamble (line 2: seller username, from, to), two empty lines, `total(Rp)`
 *   with the column sums, header on line 6, one settled order per line.
 *
 * settlements/shopee-income-<username>-<from>_<to>.xlsx  With --format xlsx: the same
 *   reports as the workbook Shopee hands out (shaped like the real one; written by
 *   dev/generate/settlement-workbook.ts through the streaming writer
 *   dev/generate/xlsx.ts): sheets Summary, Income, Service Fee Details, Adjustment,
 *   Shipping Fee Discrepancy. Sheet Income holds the CSV's lines cell for cell on the
 *   same row numbers (CSV line N = Excel row N; dimension A1:AM<last>): no <row> for
 *   the two empty lines, row 5's sums as SUM(H7:H<last>) formulas with cached values,
 *   amounts as numbers, dates and the other fields as text (shared strings), an empty
 *   field as no cell. Only Income's header row has both "No. Pesanan" and "Total
 *   Penghasilan" (Service Fee Details has "No. Pesanan": a near miss). The summary
 *   lists them with file_type settlements, rows, lines (Income's last row), bytes and
 *   sha256, and options.format "xlsx". Other code writes one such report (or its CSV
 *   twin) from rows of its own with writeSettlementWorkbook / settlementCsvText.
 *
 * bad-rows.jsonl  One JSON object per deliberately bad row, in file and line order:
 *   { "file": "jakmall-orders-0007.csv", "line": 1234, "code": "bad_qty",
 *     "column": "Qty", "variant": "zero" }
 *   `file` is the purchase file's name; `line` the 1-based physical line where the
 *   record starts (header = line 1; a quoted line break makes a record span two
 *   lines); `code` one of the importer's codes (ROW_ERROR_CODES and WARNING_CODES in
 *   lib/imports/purchase-rows.ts) — each bad row triggers exactly that
 *   one; `column` the header of the offending field as written (absent for the
 *   whole-record errors field_count and stray_quote; `Total Transaksi` for
 *   total_mismatch, `Kode Pesanan` for repeated_order); `variant` which flavour of
 *   the defect (e.g. bad_qty: zero, negative, decimal, word, missing; stray_quote:
 *   quote_in_unquoted_field, unclosed_quote). Where the line points:
 *   repeated_order → the first line of the later block; total_mismatch → the
 *   order's (single) line; conflicting_order → the conflicting line (always the
 *   order's last, a free gift of price 0). Blank lines, delimiter-only rows,
 *   repeated headers and totals lines are never listed: they must be skipped
 *   silently.
 *
 * outcomes.csv  The expected reconcile outcome of every (store, invoice): the first
 *   that applies of orphan_settlement, returned, cancelled, matched, amount_mismatch,
 *   missing_settlement, in_progress (dev/generate/ledger.ts), tolerance 0, header
 *   `store,invoice,outcome,expected,actual,diff,split_invoice,order_date`:
 *   store = canonical shop name; expected = Σ line_price over the invoice's
 *   non-cancelled landed purchases (empty for an orphan); actual = the settlement's
 *   Harga Asli Produk (empty without one); diff = actual − expected when both
 *   exist; order_date = the purchase's order date (the settlement's Waktu Pesanan
 *   Dibuat for an orphan). Computed from what was written, as an importer that
 *   read every file in name order would hold it: the latest version of each order
 *   (later file, or later block of the same file), without rejected rows (a
 *   rejected row is an order of its own, so its invoice has no outcome; a rejected
 *   conflicting line costs 0 and leaves its order whole).
 *
 * summary.json  Options, the date window, totals (files; rows = data records of
 *   all purchase files; goodRows = rows − rejectedRows, warnings included;
 *   badRowsByCode; skipped lines by reason; orders = supplier orders that land;
 *   landedLines = order lines that land, after replacement; invoices; split
 *   invoices; settlement rows; orphans; expectedMargin = Σ line_margin over landed
 *   lines; outcome counts; final status mix), per-store counts, and every file with
 *   file_type, rows, lines, bytes, sha256 (and the purchase file's quirks).
 *
 * DETERMINISM  Same options → byte-identical files (the summary holds no clock
 * time; a workbook's zip entries carry Excel's fixed 1980-01-01 time and no UTC
 * timestamp, and are deflated by Node's zlib: the same Node build gives the same bytes). All randomness comes from the generator's own sfc32 streams seeded from
 * --seed, one stream per concern; --settlements false leaves the purchase files
 * unchanged. Nothing depends on the machine, the time zone or the wall clock.
 *
 * MEMORY  Streaming: rows go to disk as they are made, with backpressure. Held in
 * memory: the catalogue and shops, the orders of the current export overlap, a
 * ring of 32 recent orders, open settlement reports (a few weeks of rows), and the
 * reconcile ledger in typed arrays (~40 bytes per order); writing a workbook, also
 * its shared-string table (one report's distinct strings).
 */
import { generate, fingerprint } from "./generate/run.js";
import { OptionsError, parseOptions } from "./generate/options.js";

async function main(): Promise<void> {
  const started = performance.now();
  const options = parseOptions(process.argv.slice(2));
  const summary = await generate(options);
  const t = summary.totals;
  const bytes = summary.files.reduce((n, f) => n + f.bytes, 0);
  const line = {
    generate: options.out,
    seed: options.seed,
    purchase_files: t.purchaseFiles,
    settlement_files: t.settlementFiles,
    rows: t.rows,
    bad_rows: t.rejectedRows + t.warningRows,
    orders: t.orders,
    invoices: t.invoices,
    settlement_rows: t.settlementRows,
    matched: t.outcomes.matched,
    mb_written: Math.round(bytes / 1e5) / 10,
    seconds: Math.round((performance.now() - started) / 10) / 100,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    fingerprint: fingerprint(summary).slice(0, 16),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`generate: ${error instanceof OptionsError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
