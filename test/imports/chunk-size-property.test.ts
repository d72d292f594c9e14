/**
 * The chunk-size property through the whole import (the CSV layer has its own, in
 * csv/plan.test.ts): a generated dirty purchase file imported with every chunk row
 * target from 1 to 50 leaves exactly what one whole-file pass leaves in the database:
 * the purchases, their lines, the stores, every row error and warning (line, column,
 * code, message, raw), the file's status and counts and the import's counters.
 *
 * Each import is the real thing, in process: the app on real Postgres (startAppServer:
 * the dev server with its embedded QStash and Blob stand-ins, job state in memory),
 * POST /api/imports, plan, chunk deliveries over HTTP, commit, finalise and the
 * import's afterFinalise. Only the chunk row target changes between imports: the
 * import kind is registered again exactly as lib/runtime.ts registers it, with
 * `chunkRows` read from this file. The tables an import writes are emptied between
 * imports (cheaper than a database each).
 */
import { isDeepStrictEqual } from "node:util";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, queryRows } from "../../lib/db/client.js";
import { createImportKind } from "../../lib/imports/kind.js";
import { queueImportWebhook } from "../../lib/imports/webhook.js";
import { newImportKey } from "../../lib/storage/index.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { availablePostgres } from "../support/databases.js";
import { csvField, PURCHASE_HEADER, prng, purchaseLine } from "./csv/support.js";

const TOKEN = "chunk-size-property-token-0123456789";
const WHOLE_FILE = 1_000_000; // DROPFLOW_CHUNK_ROWS' maximum: one chunk for any file here
const TERMINAL = ["completed", "completed_with_errors", "completed_with_gaps", "failed", "cancelled"];

// ---------------------------------------------------------------------------------
// The generator: seeded, so a failure names its seed and reproduces.

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const PRODUCTS = [
  "Kabel Data USB-C",
  "Încărcător rapid ștecher",
  "Husă telefon țesătură",
  "Căști fără fir, negru",
  "Kopi Gayo Aceh 250g",
  "Sambal bawang pedas",
  "Kaos polos — hitam",
  "Lampu LED 💡 hemat",
  "Casing HP 📱 anti-jatuh",
  "Sendok kayu 中文",
  "Tas selempang Ærø",
];
const STORES = [
  { name: "MR eStore Shopee", channel: "Shopee" },
  { name: "Toko Ümlaut, Cabang 2", channel: "Tokopedia" },
  { name: "Magazin București ✨", channel: "Shopee" },
];
const STATUSES = ["Pesanan selesai", "Dikemas", "Dibatalkan"];

interface GeneratedFile {
  seed: number;
  bytes: Uint8Array;
  /** What the generator put in, to check it made what it claims. */
  features: Set<string>;
}

interface GenerateOptions {
  orders: number;
  /**
   * Now and then an order code comes back later in the file (two exports pasted
   * together), as a block of its own; the planner tracks these (`repeatedKeys`).
   */
  repeatOrders: boolean;
  /** The file's shape, fixed per file so that the files together cover every case. */
  bom: boolean;
  lineEnds: "crlf" | "lf" | "mixed";
  /** The export cut off inside a quoted field: the last record's quote never closes. */
  unclosedAtEnd: boolean;
}

/**
 * A dirty purchase export: BOM or not, `,` or `;`, CRLF / LF / mixed line ends (now
 * and then a lone CR), multi-byte text (Romanian, Indonesian, emoji, CJK), quoted
 * delimiters, quotes and line ends (LF and CRLF) inside fields, orders of 1–5 lines
 * with their fees on the first line, invalid rows (bad qty, bad date, bad amount,
 * missing SKU, short record, conflicting store, stray quote, a quote never closed,
 * junk after a closing quote), whole orders of invalid rows, blank, delimiter-only,
 * totals and repeated-header lines, and sometimes a quote left open at the very end.
 */
function dirtyImportFile(seed: number, options: GenerateOptions): GeneratedFile {
  const random = prng(seed);
  const features = new Set<string>();
  const chance = (p: number) => random() < p;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const int = (from: number, to: number) => from + Math.floor(random() * (to - from + 1));
  const delimiter = chance(0.8) ? "," : ";";
  const { lineEnds, unclosedAtEnd } = options;
  const lineEnd = () => {
    if (lineEnds === "crlf") return "\r\n";
    if (lineEnds === "lf") return "\n";
    return chance(0.03) ? "\r" : chance(0.5) ? "\r\n" : "\n";
  };
  /** One record: values written as CSV should (csvField), `raw` written as is (the dirt). */
  const record = (values: Record<string, string>, raw: Record<string, string> = {}, fields = PURCHASE_HEADER.length) =>
    PURCHASE_HEADER.slice(0, fields)
      .map((name) => (name in raw ? (raw[name] as string) : csvField(values[name] ?? "", delimiter)))
      .join(delimiter);
  const date = () =>
    `${String(int(1, 28)).padStart(2, "0")} ${pick(MONTHS)} 2025, ${String(int(0, 23)).padStart(2, "0")}:${String(int(0, 59)).padStart(2, "0")}:${String(int(0, 59)).padStart(2, "0")}`;
  const productName = () => {
    let name = pick(PRODUCTS);
    if (/[^\x20-\x7e]/.test(name)) features.add("multi-byte text");
    if (chance(0.12)) {
      name += `${chance(0.5) ? "\r\n" : "\n"}baris kedua ${pick(["ș", "ț", "ă", "🔌"])}`;
      features.add("quoted line end");
    }
    if (chance(0.1)) {
      name += ' 12" layar';
      features.add("escaped quote");
    }
    if (chance(0.1)) name += `${delimiter} isi 2`;
    return name;
  };

  const header = PURCHASE_HEADER.map((name) => csvField(name, delimiter)).join(delimiter);
  const records: string[] = [header];
  const used: Array<{ code: string; store: (typeof STORES)[number]; invoice: string; at: string }> = [];
  let no = 0;
  for (let o = 0; o < options.orders; o++) {
    const again = options.repeatOrders && used.length > 2 && chance(0.12) ? pick(used.slice(0, -1)) : null;
    if (again) features.add("repeated order");
    const code = again?.code ?? String(100000 + o * 7919 + int(0, 7000));
    const store = again?.store ?? pick(STORES);
    const invoice = again?.invoice ?? `'2503${code}XK`;
    const at = again?.at ?? date();
    used.push({ code, store, invoice, at });
    const status = pick(STATUSES);
    const lineCount = chance(0.55) ? 1 : int(2, 5);
    const allBad = chance(0.08);
    if (allBad) features.add("order of invalid rows only");
    const otherFee = chance(0.3) ? int(1, 5) * 500 : 0;
    const partnerFee = int(1, 4) * 1000;
    const lines = Array.from({ length: lineCount }, () => {
      const unit = int(1, 40) * 1000;
      const qty = int(1, 4);
      const price = unit + int(1, 10) * 500;
      return { unit, qty, price };
    });
    const total = lines.reduce((sum, l) => sum + l.unit * l.qty, 0) + otherFee + partnerFee + (chance(0.1) ? 100 : 0);
    lines.forEach((line, k) => {
      no += 1;
      const values: Record<string, string> = {
        No: String(no),
        "Waktu Pesanan Terbuat": at,
        "Status Pesanan Terakhir": status,
        "Kode Pesanan": chance(0.1) ? `'${code}` : code,
        "Kode Transaksi": `5${code}`,
        SKU: `SKU-${int(1, 60)}`,
        "Nama Produk": productName(),
        "Harga Produk": String(line.unit),
        Qty: String(line.qty),
        "Total Harga Produk": String(line.unit * line.qty),
        "Biaya Lainnya": k === 0 ? String(otherFee) : "",
        "Biaya Mitra Jakmall": k === 0 ? String(partnerFee) : "",
        "Total Transaksi": k === 0 ? String(total) : "",
        "Harga Produk Channel": String(line.price),
        "Total Harga Produk Channel": String(line.price * line.qty),
        "Potensi Keuntungan": String((line.price - line.unit) * line.qty),
        "Dibuat Oleh": chance(0.2) ? "Ștefan Ionescu" : "Admin",
        "Jenis Channel": store.channel,
        "Nama Toko": store.name,
        "Kode Invoice Channel": invoice,
        "Gudang Pengiriman": "Jakarta",
        "Jenis Ekspedisi": pick(["J&T", "JNE", "SiCepat"]),
        Cashless: pick(["Ya", "Tidak"]),
        "Nomor Resi": chance(0.5) ? `'JP${int(1000, 9999)}` : "",
        "Waktu Pengiriman": chance(0.3) ? date() : "",
        Provinsi: pick(["DKI Jakarta", "Jawa Barat", "Nanggroe Aceh Darussalam"]),
        Kota: pick(["Jakarta Barat", "Bandung", "Banda Aceh"]),
      };
      const raw: Record<string, string> = {};
      let fields = PURCHASE_HEADER.length;
      const last = o === options.orders - 1 && k === lines.length - 1;
      const dirt = allBad ? 0.05 : last && unclosedAtEnd ? 1 : random();
      if (last && unclosedAtEnd) {
        raw.Kota = '"Jakarta Barat, tanpa tutup';
        features.add("unclosed quote at the end");
      }
      if (dirt < 0.06) {
        values.Qty = pick(["0", "-2", "dua", "1.5", ""]);
        features.add("bad qty");
      } else if (dirt < 0.1) {
        values["Waktu Pesanan Terbuat"] = pick(["31 February 2025, 10:00:00", "2025-03-03 10:00:00", "03 Maret 2025, 10:00:00"]);
        features.add("bad date");
      } else if (dirt < 0.12) {
        values["Waktu Pengiriman"] = "kemarin";
        features.add("bad date");
      } else if (dirt < 0.14) {
        values["Harga Produk"] = "Rp 18.500";
        features.add("bad amount");
      } else if (dirt < 0.155) {
        values.SKU = "";
        features.add("missing field");
      } else if (dirt < 0.17) {
        fields = 20;
        features.add("short record");
      } else if (dirt < 0.185 && k > 0) {
        values["Nama Toko"] = STORES.find((s) => s !== store)?.name ?? "";
        features.add("conflicting order");
      } else if (dirt < 0.205) {
        raw.SKU = `SK"U-${int(1, 60)}`;
        features.add("stray quote");
      } else if (dirt < 0.215) {
        raw["Dibuat Oleh"] = '"Admin tanpa tutup';
        features.add("unclosed quote");
      } else if (dirt < 0.225) {
        raw["Dibuat Oleh"] = '"Admin" x';
        features.add("junk after quote");
      }
      records.push(record(values, raw, fields));
    });
    const extra = o === options.orders - 1 && unclosedAtEnd ? 1 : random();
    if (extra < 0.04) records.push("");
    else if (extra < 0.07) records.push(delimiter.repeat(PURCHASE_HEADER.length - 1));
    else if (extra < 0.09) records.push(header);
    else if (extra < 0.1) records.push(["Total", "", "", "", "", "", "", "99999"].join(delimiter));
  }
  let text = "";
  records.forEach((line, k) => {
    text += line;
    if (k < records.length - 1 || chance(0.5)) text += lineEnd();
  });
  if (options.bom) {
    text = `\uFEFF${text}`;
    features.add("BOM");
  }
  if (/\r\n/.test(text)) features.add("CRLF");
  return { seed, bytes: new TextEncoder().encode(text), features };
}

// ---------------------------------------------------------------------------------
// The import, and what it leaves behind.

interface Outcome {
  chunks: number;
  /** Everything that must not depend on the chunk size. */
  result: {
    job: { status: string; last_error: string | null; counters: Record<string, number> };
    counts: Record<string, number>;
    file: { status: string; error_code: string | null; error_message: string | null; sha256: string | null; counts: unknown };
    stores: unknown[];
    purchases: unknown[];
    lines: unknown[];
    problems: unknown[];
  };
}

/** The generated files: each imported whole, then with every chunk row target from 1 to 50. */
const FILES: Array<GenerateOptions & { seed: number }> = [
  { seed: 11, orders: 28, repeatOrders: false, bom: true, lineEnds: "crlf", unclosedAtEnd: true },
  { seed: 12, orders: 28, repeatOrders: false, bom: false, lineEnds: "lf", unclosedAtEnd: false },
  { seed: 13, orders: 28, repeatOrders: false, bom: true, lineEnds: "mixed", unclosedAtEnd: false },
  { seed: 21, orders: 28, repeatOrders: true, bom: false, lineEnds: "mixed", unclosedAtEnd: true },
  { seed: 22, orders: 28, repeatOrders: true, bom: true, lineEnds: "crlf", unclosedAtEnd: false },
];

const postgres = availablePostgres();

describe.skipIf(!postgres)("chunk size property: chunked imports equal one whole-file import", () => {
  let app: AppServer;
  let db: Database;
  let chunkRows = WHOLE_FILE;

  beforeAll(async () => {
    app = await startAppServer(TOKEN);
    const { runtime } = app.server;
    db = (await runtime.database()).db;
    // The import kind exactly as lib/runtime.ts makes it, with this file's chunk row target.
    runtime.jobKinds.add(
      createImportKind({
        objects: () => runtime.objectStore(),
        chunkRows: () => chunkRows,
        workbookLimits: () => runtime.config.jobs.workbookLimits,
        onFinished: (job, log) => queueImportWebhook(() => runtime.taskQueue(), job, log),
      }),
    );
  });
  afterAll(() => app?.close());

  async function upload(file: GeneratedFile): Promise<string> {
    const key = newImportKey(`dirty-${file.seed}.csv`);
    await app.server.runtime.objectStore().put(key, Buffer.from(file.bytes), { contentType: "text/csv" });
    return key;
  }

  async function importOnce(key: string, rows: number, dryRun = false): Promise<Outcome> {
    // Empties what an import writes (delete: far cheaper than truncate on tables this small).
    for (const table of ["purchase_lines", "purchases", "import_row_errors", "import_files", "job_chunks", "jobs", "stores"]) {
      await queryRows(db, sql`delete from ${sql.identifier(table)}`);
    }
    chunkRows = rows;
    const created = await fetch(`${app.base}/api/imports`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ file_type: "purchases", files: [{ key, name: "dirty.csv" }], dry_run: dryRun }),
    });
    expect(created.status).toBe(202);
    const { job_id: jobId } = (await created.json()) as { job_id: string };
    // Finished: the job's status is written, and after it (afterFinalise) the file's.
    const until = Date.now() + 30_000;
    for (;;) {
      const [state] = await queryRows<{ job: string; file: string }>(
        db,
        sql`select j.status as job, f.status as file from jobs j join import_files f on f.job_id = j.id where j.id = ${jobId}`,
      );
      if (state && TERMINAL.includes(state.job) && !["queued", "running"].includes(state.file)) break;
      if (Date.now() > until) throw new Error(`import ${jobId} (chunk rows ${rows}) still ${state?.job}/${state?.file}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const [job] = await queryRows<{ status: string; last_error: string | null; counters: Record<string, number> }>(
      db,
      sql`select status, last_error, counters from jobs where id = ${jobId}`,
    );
    const [file] = await queryRows<Outcome["result"]["file"]>(
      db,
      sql`select status, error_code, error_message, sha256, counts from import_files where job_id = ${jobId}`,
    );
    const [chunks] = await queryRows<{ n: number }>(db, sql`select count(*)::int as n from job_chunks where job_id = ${jobId}`);
    const status = (await (
      await fetch(`${app.base}/api/imports/${jobId}`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { counts: Record<string, number> };
    const { chunks_done: _done, ...counters } = job?.counters ?? {};
    return {
      chunks: chunks?.n ?? 0,
      result: {
        job: { status: job?.status ?? "missing", last_error: job?.last_error ?? null, counters },
        // What GET /api/imports/:id shows.
        counts: status.counts,
        file: file ?? { status: "missing", error_code: null, error_message: null, sha256: null, counts: null },
        stores: await queryRows(db, sql`select name, channel from stores order by name`),
        // Everything but where it came from (job ids, rank_job, timestamps) and the store's id.
        purchases: await queryRows(
          db,
          sql`select p.order_code, p.transaction_code, s.name as store, p.channel, p.invoice, p.ordered_at, p.status,
                     p.other_fee, p.partner_fee, p.order_total, p.created_by, p.warehouse, p.courier, p.cashless,
                     p.waybill, p.shipped_at, p.province, p.city, p.content_hash, p.rank_file, p.rank_line
              from purchases p join stores s on s.id = p.store_id order by p.order_code`,
        ),
        lines: await queryRows(db, sql`select * from purchase_lines order by order_code, line_no`),
        problems: await queryRows(
          db,
          sql`select line, "column", code, message, raw from import_row_errors
              order by line, code, "column" nulls first, message, raw`,
        ),
      },
    };
  }

  async function checkEveryChunkSize(file: GeneratedFile): Promise<void> {
    const key = await upload(file);
    const whole = await importOnce(key, WHOLE_FILE);
    expect(whole.chunks).toBe(1);
    expect(whole.result.job.status).toBe("completed_with_errors");
    const sections = Object.keys(whole.result) as Array<keyof Outcome["result"]>;
    const chunkCounts: number[] = [];
    const differing: string[] = [];
    let first: { rows: number; outcome: Outcome } | null = null;
    for (let rows = 1; rows <= 50; rows++) {
      const chunked = await importOnce(key, rows);
      chunkCounts[rows] = chunked.chunks;
      const bad = sections.filter((section) => !isDeepStrictEqual(chunked.result[section], whole.result[section]));
      if (bad.length > 0) {
        differing.push(`chunk rows ${rows} (${chunked.chunks} chunks): ${bad.join(", ")}`);
        first ??= { rows, outcome: chunked };
      }
    }
    // First which chunk sizes differ and where, then the first of them in detail.
    expect.soft(differing, `seed ${file.seed}: chunk sizes whose import differs from the whole file's`).toEqual([]);
    if (first) {
      const context = `seed ${file.seed}, chunk rows ${first.rows} (${first.outcome.chunks} chunks)`;
      for (const section of sections) {
        expect.soft(first.outcome.result[section], `${context}: ${section}`).toEqual(whole.result[section]);
      }
    }
    // The chunk row target really changed the plan.
    expect(chunkCounts[1]).toBeGreaterThan(chunkCounts[50] as number);
    expect(chunkCounts[1]).toBeGreaterThan(10);
    for (let rows = 2; rows <= 50; rows++) expect(chunkCounts[rows]).toBeLessThanOrEqual(chunkCounts[rows - 1] as number);
  }

  describe("generated files whose order codes each appear in one block", () => {
    for (const options of FILES.filter((f) => !f.repeatOrders)) {
      it(`seed ${options.seed}`, () => checkEveryChunkSize(dirtyImportFile(options.seed, options)), 60_000);
    }
  });

  describe("generated files with an order code repeated later (two exports pasted together)", () => {
    for (const options of FILES.filter((f) => f.repeatOrders)) {
      it(`seed ${options.seed}`, () => checkEveryChunkSize(dirtyImportFile(options.seed, options)), 60_000);
    }
  });

  /**
   * The smallest files the property found differing (chunk rows 1 against the whole
   * file), kept as cases of their own: they name the difference without a generator.
   */
  describe("dry runs", () => {
    for (const options of FILES.filter((f) => f.repeatOrders)) {
      it(`seed ${options.seed}: counts what the import would, in every chunking, and writes no order`, async () => {
        const key = await upload(dirtyImportFile(options.seed, options));
        const whole = await importOnce(key, WHOLE_FILE);
        for (const rows of [1, 3, 7, 20, 50]) {
          const dry = await importOnce(key, rows, true);
          const context = `seed ${options.seed}, dry run, chunk rows ${rows}`;
          expect(dry.chunks, context).toBeGreaterThan(1);
          expect(dry.result.job, context).toEqual(whole.result.job);
          expect(dry.result.counts, context).toEqual(whole.result.counts);
          expect(dry.result.file, context).toEqual(whole.result.file);
          expect(dry.result.problems, context).toEqual(whole.result.problems);
          expect([dry.result.purchases, dry.result.lines, dry.result.stores], context).toEqual([[], [], []]);
        }
      }, 60_000);
    }
  });

  describe("minimal cases", () => {
    const line = (no: number, code: string, values: Partial<Record<string, string>> = {}) =>
      purchaseLine({ No: String(no), "Kode Pesanan": code, "Kode Transaksi": `5${code}`, "Kode Invoice Channel": `'2503${code}XK`, ...values }, ",");
    const cases: Array<[string, string[]]> = [
      // Seen: the file's counts (import_files.counts) are one chunk's counters, not the
      // sum of its chunks', and its status follows them.
      ["two orders, the second a rejected row (bad qty)", [line(1, "700001"), line(2, "700002", { Qty: "0" })]],
      // Seen: whole, 700001 is one order of two lines (the rejected row between does not
      // end it); chunked, the second block is a repeated_order that replaces the first.
      [
        "an order, another order's rejected row, the first order again",
        [line(1, "700001", { SKU: "SKU-1" }), line(2, "700002", { Qty: "0" }), line(3, "700001", { SKU: "SKU-2" })],
      ],
      // Seen: chunked warns repeated_order on line 4 (the planner counts the rejected
      // block as an earlier one), whole does not.
      [
        "an order of rejected rows only, another order, the first order again",
        [line(1, "700001", { Qty: "0" }), line(2, "700002"), line(3, "700001")],
      ],
      // Seen: whole counts 700001 once (orders_inserted 2); chunked counts it again
      // (orders_unchanged or orders_updated 1, depending on content and commit order).
      ["an order, another order, the first order again (all rows valid)", [line(1, "700001"), line(2, "700002"), line(3, "700001")]],
    ];
    for (const [name, rows] of cases) {
      it(name, async () => {
        const file: GeneratedFile = {
          seed: 0,
          bytes: new TextEncoder().encode([PURCHASE_HEADER.join(","), ...rows].join("\r\n")),
          features: new Set(),
        };
        const key = await upload(file);
        const whole = await importOnce(key, WHOLE_FILE);
        const chunked = await importOnce(key, 1);
        expect(chunked.chunks).toBe(rows.length);
        for (const section of Object.keys(whole.result) as Array<keyof Outcome["result"]>) {
          expect.soft(chunked.result[section], `chunk rows 1: ${section}`).toEqual(whole.result[section]);
        }
      });
    }
  });

  it("generates every kind of dirt it claims, and the whole-file import reports it", async () => {
    const files = FILES.map((options) => dirtyImportFile(options.seed, options));
    const features = new Set(files.flatMap((file) => [...file.features]));
    expect([...features].sort()).toEqual(
      expect.arrayContaining([
        "BOM",
        "CRLF",
        "bad date",
        "bad qty",
        "multi-byte text",
        "order of invalid rows only",
        "quoted line end",
        "repeated order",
        "stray quote",
        "unclosed quote",
        "unclosed quote at the end",
      ]),
    );
    const codes = new Set<string>();
    for (const file of files) {
      const whole = await importOnce(await upload(file), WHOLE_FILE);
      for (const problem of whole.result.problems as Array<{ code: string }>) codes.add(problem.code);
    }
    expect([...codes].sort()).toEqual(
      expect.arrayContaining(["bad_amount", "bad_date", "bad_qty", "field_count", "missing_field", "stray_quote", "total_mismatch"]),
    );
  });
});
