/**
 * CSV layer throughput, beside a plain read of the same file in the same run:
 *
 *   npx tsx test/imports/csv/throughput.ts [--mb 120] [--runs 3] [--keep]
 *
 * Writes a deterministic purchase export of about --mb MB to the temp directory
 * (BOM, CRLF, quoted dates and product names with commas, `""` and line ends,
 * multi-byte text, orders of 1–6 lines), then times (median of --runs):
 * - baseline: fs.createReadStream, every chunk touched;
 * - the planner: planFileChunks() on a file stream (scan, UTF-8 and NUL checks, cuts);
 * - the tokenizer alone in scan mode (fields 0..5 located);
 * - full field decoding: every record's fields, streaming;
 * - the worker's path: readChunk() of every planned chunk from its own byte-range stream;
 * - papaparse (arrays, no header) on the same stream, for reference.
 * Prints a table, then one JSON line with the figures (the bench/ convention). Lives
 * here, not in bench/, while the import job kind that would own `npm run bench:import`
 * is being written.
 */
import { once } from "node:events";
import { createReadStream, createWriteStream, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Papa from "papaparse";
import { planFileChunks, RecordReader, readChunk } from "../../../lib/imports/csv/index.js";
import { PURCHASE_HEADER, prng } from "./support.js";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const targetMb = option("mb", 120);
const runs = option("runs", 3);
const keep = args.includes("--keep");
const out = (line: string) => process.stdout.write(`${line}\n`);

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const PRODUCTS = [
  "Kabel Data USB Type C 1 Meter",
  "Casing HP, Silikon Bening",
  'Tas Ransel "Premium" Laptop 15 inch',
  "Lampu LED Tidur Anak-anak Karakter Lucu",
  "Kopi Arabika Gayo 250 gr — Biji Sangrai",
  "Sendok Garpu Stainless Set Isi 12 Pcs",
  "Kaos Polos Cotton Combed 30s\nUkuran L",
  "Panci Anti Lengket 24 cm",
];

async function writeFile(file: string, bytes: number): Promise<number> {
  const random = prng(2025);
  const stream = createWriteStream(file);
  const quote = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);
  stream.write(`\uFEFF${PURCHASE_HEADER.map(quote).join(",")}\r\n`);
  let written = 0;
  let rows = 0;
  let order = 3_000_000;
  let batch = "";
  while (written < bytes) {
    order++;
    const lines = random() < 0.88 ? 1 : 2 + Math.floor(random() * 5);
    const day = 1 + Math.floor(random() * 28);
    const month = MONTHS[Math.floor(random() * 12)] as string;
    const when = `${String(day).padStart(2, "0")} ${month} 2025, ${String(Math.floor(random() * 24)).padStart(2, "0")}:14:09`;
    for (let line = 0; line < lines; line++) {
      rows++;
      const price = 100 * (50 + Math.floor(random() * 2000));
      const qty = random() < 0.8 ? 1 : 2 + Math.floor(random() * 4);
      const cost = Math.round(price * 0.7);
      const fields = [
        rows,
        when,
        "Pesanan selesai",
        order,
        order + 9_000_000,
        `SKU-${Math.floor(random() * 3000)}`,
        PRODUCTS[Math.floor(random() * PRODUCTS.length)] as string,
        cost,
        qty,
        cost * qty,
        0,
        line === 0 ? 2500 : "",
        line === 0 ? cost * qty + 2500 : "",
        price,
        price * qty,
        (price - cost) * qty,
        "Admin Toko",
        "Shopee",
        random() < 0.5 ? "MR eStore Shopee" : "Toko Sejahtera Ümlaut",
        `'25030${Math.floor(random() * 9)}8XK2M4QA`,
        "Gudang Jakarta Barat",
        "J&T Express",
        "Ya",
        `JP${Math.floor(random() * 1e10)}`,
        when,
        "DKI Jakarta",
        "Jakarta Barat",
      ];
      const text = `${fields.map((value) => quote(String(value))).join(",")}\r\n`;
      batch += text;
      written += Buffer.byteLength(text);
    }
    if (batch.length > 1 << 20) {
      if (!stream.write(batch)) await once(stream, "drain");
      batch = "";
    }
  }
  stream.end(batch);
  await once(stream, "finish");
  return rows;
}

async function median(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let k = 0; k < runs; k++) {
    const started = performance.now();
    await fn();
    times.push((performance.now() - started) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);
sampler.unref();

const file = path.join(os.tmpdir(), `dropflow-csv-throughput-${targetMb}mb.csv`);
const rows = await writeFile(file, targetMb * 1e6);
const size = statSync(file).size;
out(`file: ${file}, ${(size / 1e6).toFixed(1)} MB, ${rows} rows`);

peakRss = 0;
const baseline = await median(async () => {
  let sum = 0;
  for await (const chunk of createReadStream(file)) sum += (chunk as Buffer)[0] ?? 0;
  return sum;
});

const baselinePeakRss = peakRss;
peakRss = 0;
let plannedChunks = 0;
const planner = await median(async () => {
  const plan = await planFileChunks(createReadStream(file), { fileType: "purchases", targetRows: 5000 });
  if (plan.fileError || plan.totalRows !== rows) throw new Error(`plan: ${JSON.stringify(plan.fileError)} ${plan.totalRows}/${rows}`);
  plannedChunks = plan.chunks.length;
});
const plannerPeakRss = peakRss;

const scan = await median(async () => {
  let n = 0;
  const reader = new RecordReader({ delimiter: ",", maxField: 5 }, (record) => {
    if (record.field(3) !== "") n++;
  });
  for await (const chunk of createReadStream(file)) reader.push(chunk as Buffer);
  reader.end();
  return n;
});

const decode = await median(async () => {
  let fields = 0;
  const reader = new RecordReader({ delimiter: "," }, (record) => {
    fields += record.fields.length;
  });
  for await (const chunk of createReadStream(file)) reader.push(chunk as Buffer);
  reader.end();
  if (fields !== (rows + 1) * 27) throw new Error(`decoded ${fields} fields`);
});

const plan = await planFileChunks(createReadStream(file), { fileType: "purchases", targetRows: 5000 });
const worker = await median(async () => {
  let read = 0;
  for (const chunk of plan.chunks) {
    const { records } = await readChunk(createReadStream(file, { start: chunk.startByte, end: chunk.endByte - 1 }), chunk);
    for (const record of records) read += record.fields.length > 0 ? 1 : 0;
  }
  if (read !== rows) throw new Error(`worker read ${read} of ${rows}`);
});

const papaparse = await median(
  () =>
    new Promise<void>((resolve, reject) => {
      let parsed = 0;
      Papa.parse(createReadStream(file), {
        step: () => {
          parsed++;
        },
        complete: () => (parsed === rows + 1 ? resolve() : reject(new Error(`papaparse: ${parsed} rows`))),
        error: (error: Error) => reject(error),
      });
    }),
);

const mbps = (seconds: number) => size / 1e6 / seconds;
const rowsPerS = (seconds: number) => rows / seconds;
const table: [string, number][] = [
  ["baseline: fs.createReadStream", baseline],
  ["planner: planFileChunks (scan + UTF-8 + cuts)", planner],
  ["tokenizer scan mode (fields 0..5)", scan],
  ["tokenizer full field decoding", decode],
  ["worker path: readChunk per planned chunk", worker],
  ["reference: papaparse, arrays", papaparse],
];
out("");
out(`| what | seconds | MB/s | rows/s | vs baseline |`);
out(`|---|---|---|---|---|`);
for (const [what, seconds] of table) {
  out(`| ${what} | ${seconds.toFixed(3)} | ${mbps(seconds).toFixed(0)} | ${Math.round(rowsPerS(seconds))} | ${(seconds / baseline).toFixed(2)}x |`);
}
out(
  `planner: ${plannedChunks} chunks of ~5000 rows; peak RSS while planning ${Math.round(plannerPeakRss / 1e6)} MB ` +
    `(while the baseline read: ${Math.round(baselinePeakRss / 1e6)} MB)`,
);
out(
  JSON.stringify({
    bench: "csv",
    mb: Number((size / 1e6).toFixed(1)),
    rows,
    runs,
    baseline_mb_per_s: Math.round(mbps(baseline)),
    planner_mb_per_s: Math.round(mbps(planner)),
    scan_mb_per_s: Math.round(mbps(scan)),
    decode_mb_per_s: Math.round(mbps(decode)),
    worker_mb_per_s: Math.round(mbps(worker)),
    papaparse_mb_per_s: Math.round(mbps(papaparse)),
    planner_ratio: Number((planner / baseline).toFixed(2)),
    decode_ratio: Number((decode / baseline).toFixed(2)),
    planner_peak_rss_mb: Math.round(plannerPeakRss / 1e6),
    baseline_peak_rss_mb: Math.round(baselinePeakRss / 1e6),
  }),
);
if (!keep) rmSync(file);
