/**
 * A workbook and the same data as CSV import alike: a generated dirty settlement report
 * written both ways (dev/generate/settlement-workbook.ts: the workbook holds the CSV's
 * lines cell for cell, amounts as numbers where they are numbers) leaves the same
 * settlements, counters, file counts and row errors, line for row; and the workbook
 * imported at every chunk row target from 1 to 50 leaves exactly what the CSV left.
 *
 * Each import is the real thing in process (POST /api/imports, plan, chunk deliveries,
 * commit, finalise), with the import kind registered again as lib/runtime.ts does but
 * with this file's chunk row target (as test/imports/chunk-size-property.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SettlementReport, SETTLEMENT_HEADERS, writeSettlementCsv, writeSettlementWorkbook } from "../../../dev/generate/settlement-workbook.js";
import { type Database, queryRows } from "../../../lib/db/client.js";
import { createImportKind } from "../../../lib/imports/kind.js";
import { columnLetters } from "../../../lib/imports/xlsx/convert.js";
import { newImportKey } from "../../../lib/storage/index.js";
import { type AppServer, startAppServer } from "../../support/app-server.js";
import { availablePostgres } from "../../support/databases.js";
import { prng } from "../csv/support.js";

const TOKEN = "workbook-parity-token-0123456789";
const WHOLE_FILE = 1_000_000;
const TERMINAL = ["completed", "completed_with_errors", "completed_with_gaps", "failed", "cancelled"];
const column = (name: string) => SETTLEMENT_HEADERS.indexOf(name as (typeof SETTLEMENT_HEADERS)[number]);

/** A report of `count` orders, some of them broken in ways a workbook can hold (no CSV syntax faults: a workbook has none). */
function dirtyReport(seed: number, count: number): { report: SettlementReport; faults: Set<string> } {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const faults = new Set<string>();
  const rows: string[][] = [];
  for (let k = 0; k < count; k++) {
    const row = new Array<string>(SETTLEMENT_HEADERS.length).fill("");
    const day = 1 + Math.floor(random() * 28);
    const gross = 1000 * (5 + Math.floor(random() * 500));
    const fee = -Math.round(gross * 0.08);
    row[0] = String(k + 1);
    row[column("No. Pesanan")] = `2505${String(day).padStart(2, "0")}${seed}X${String(k).padStart(5, "0")}`;
    row[column("Username (Pembeli)")] = pick(["budi.s", "0812 sari", "=cmd", "Ærø shop", ""]);
    row[column("Waktu Pesanan Dibuat")] = `2025-05-${String(day).padStart(2, "0")}`;
    row[column("Tanggal Dana Dilepaskan")] = `2025-05-${String(Math.min(28, day + 2)).padStart(2, "0")}`;
    row[column("Harga Asli Produk")] = String(gross);
    row[column("Jumlah Pengembalian Dana ke Pembeli")] = "0";
    row[column("Biaya Administrasi")] = String(fee);
    row[column("Total Penghasilan")] = String(gross + fee);
    row[column("Jasa Kirim")] = pick(["Reguler", "Hemat", "Instant"]);
    row[column("Nama Kurir")] = pick(["SPX Standard", "J&T Express", "Kurir \"Cepat\", Jakarta"]);
    const fault = random() < 0.25 ? pick(["text_amount", "fraction", "separators", "bad_date", "impossible_date", "missing_date", "missing_refund", "repeated"]) : null;
    if (fault === "text_amount") row[column("Harga Asli Produk")] = "abc";
    if (fault === "fraction") row[column("Total Penghasilan")] = `${gross + fee}.5`;
    if (fault === "separators") row[column("Biaya Administrasi")] = "1.000.000";
    if (fault === "bad_date") row[column("Waktu Pesanan Dibuat")] = "32/05/2025";
    if (fault === "impossible_date") row[column("Tanggal Dana Dilepaskan")] = "2025-02-30";
    if (fault === "missing_date") row[column("Waktu Pesanan Dibuat")] = "";
    if (fault === "missing_refund") row[column("Jumlah Pengembalian Dana ke Pembeli")] = "";
    if (fault === "repeated" && rows.length > 0) row[column("No. Pesanan")] = (rows.at(-1) as string[])[column("No. Pesanan")] as string;
    if (fault) faults.add(fault);
    rows.push(row);
  }
  return { report: { username: `parity${seed}`, from: "2025-05-01", to: "2025-05-31", rows }, faults };
}

const postgres = availablePostgres();

describe.skipIf(!postgres)("a workbook imports as the same data as CSV", () => {
  let app: AppServer;
  let db: Database;
  let chunkRows = WHOLE_FILE;
  let dir: string;

  beforeAll(async () => {
    app = await startAppServer(TOKEN);
    const { runtime } = app.server;
    db = (await runtime.database()).db;
    runtime.jobKinds.add(
      createImportKind({
        objects: () => runtime.objectStore(),
        chunkRows: () => chunkRows,
        workbookLimits: () => runtime.config.jobs.workbookLimits,
      }),
    );
    dir = mkdtempSync(path.join(os.tmpdir(), "dropflow-parity-"));
  });
  afterAll(async () => {
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function upload(file: string): Promise<string> {
    const key = newImportKey(path.basename(file));
    await app.server.runtime.objectStore().put(key, readFileSync(file), { contentType: "application/octet-stream" });
    return key;
  }

  async function importOnce(key: string, rows: number) {
    for (const table of ["settlements", "import_row_errors", "import_files", "job_chunks", "jobs", "stores"]) {
      await queryRows(db, sql`delete from ${sql.identifier(table)}`);
    }
    await queryRows(db, sql`insert into stores (name, channel) values ('Parity store', 'Shopee')`);
    chunkRows = rows;
    const created = await app.api("/api/imports", {
      method: "POST",
      body: JSON.stringify({ file_type: "settlements", store: "Parity store", files: [{ key, name: "report" }] }),
    });
    expect(created.status).toBe(202);
    const { job_id: jobId } = (await created.json()) as { job_id: string };
    for (const until = Date.now() + 30_000; ; ) {
      const [state] = await queryRows<{ job: string; file: string }>(
        db,
        sql`select j.status as job, f.status as file from jobs j join import_files f on f.job_id = j.id where j.id = ${jobId}`,
      );
      if (state && TERMINAL.includes(state.job) && !["queued", "running"].includes(state.file)) break;
      if (Date.now() > until) throw new Error(`import ${jobId} (chunk rows ${rows}) still ${state?.job}/${state?.file}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const [job] = await queryRows<{ status: string; counters: Record<string, number> }>(db, sql`select status, counters from jobs where id = ${jobId}`);
    const { chunks_done: _done, ...counters } = job?.counters ?? {};
    const [chunks] = await queryRows<{ n: number }>(db, sql`select count(*)::int as n from job_chunks where job_id = ${jobId}`);
    return {
      chunks: chunks?.n ?? 0,
      result: {
        job: { status: job?.status, counters },
        file: (await queryRows(db, sql`select status, error_code, counts from import_files where job_id = ${jobId}`))[0],
        settlements: await queryRows(
          db,
          sql`select order_sn, ordered_on::text, payout_date::text, gross_product_price, product_discount, buyer_refund, seller_voucher,
                     ams_commission, admin_fee, service_fee, program_fee, campaign_fee, buyer_shipping_fee, shopee_shipping_subsidy,
                     shipping_forwarded, seller_shipping_promo, net_payout, shipping_service, courier_name, content_hash, rank_file, rank_line
              from settlements order by order_sn`,
        ),
        problems: await queryRows(db, sql`select line, "column", code, message, raw from import_row_errors order by line, code, "column" nulls first`),
      },
      cells: await queryRows<{ line: number; column: string | null; sheet: string | null; cell: string | null }>(
        db,
        sql`select line, "column", sheet, cell from import_row_errors order by line, code`,
      ),
    };
  }

  it("leaves the same rows, counts and row errors, at every chunk row target from 1 to 50", { timeout: 600_000 }, async () => {
    const { report, faults } = dirtyReport(7, 90);
    expect([...faults].length).toBeGreaterThanOrEqual(6);
    const csvFile = path.join(dir, "report.csv");
    const bookFile = path.join(dir, "report.xlsx");
    await writeSettlementCsv(csvFile, report);
    await writeSettlementWorkbook(bookFile, report);
    const csv = await importOnce(await upload(csvFile), WHOLE_FILE);
    expect(csv.result.job.status).toBe("completed_with_errors");
    expect(csv.result.problems.length).toBeGreaterThan(5);
    expect(csv.cells.every((error) => error.sheet === null && error.cell === null)).toBe(true);

    const bookKey = await upload(bookFile);
    const whole = await importOnce(bookKey, WHOLE_FILE);
    expect(whole.result).toEqual(csv.result);
    // Line N of the CSV is row N of sheet Income: each error names its cell there.
    for (const error of whole.cells) {
      const at = error.column === null ? -1 : SETTLEMENT_HEADERS.indexOf(error.column as (typeof SETTLEMENT_HEADERS)[number]);
      expect(error.sheet).toBe("Income");
      expect(error.cell).toBe(at < 0 ? `Income!${error.line}:${error.line}` : `Income!${columnLetters(at)}${error.line}`);
    }

    const differing: string[] = [];
    const chunkCounts: number[] = [];
    for (let rows = 1; rows <= 50; rows++) {
      const chunked = await importOnce(bookKey, rows);
      chunkCounts.push(chunked.chunks);
      const bad = (Object.keys(csv.result) as Array<keyof typeof csv.result>).filter((section) => !isDeepStrictEqual(chunked.result[section], csv.result[section]));
      if (bad.length > 0) differing.push(`chunk rows ${rows} (${chunked.chunks} chunks): ${bad.join(", ")}`);
    }
    expect(differing).toEqual([]);
    // The chunk row target really cut the workbook's CSV into many chunks.
    expect(chunkCounts[0]).toBeGreaterThan(50);
    expect(chunkCounts.at(-1)).toBe(2);
  });
});
