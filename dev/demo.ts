/**
 * `npm run demo`: the main job of dropflow on a fresh clone with nothing installed.
 * Starts the whole stack in this process on its own data directory
 * ($DROPFLOW_DATA_DIR/demo, so it never meets `npm run dev`'s), generates a seller's
 * exports (about 20 purchase files / 200,000 rows plus the marketplace's settlement
 * reports), uploads them and imports them through the HTTP API exactly as a client
 * would (Vercel Blob client uploads, then POST /api/imports), shows live progress,
 * and prints the summary. `--serve` keeps the server up afterwards.
 *
 *   npm run demo -- [--rows 200000] [--files 20] [--seed 7] [--serve]
 */
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { upload } from "@vercel/blob/client";
import { currentEnvironment, loadConfig } from "../lib/config.js";
import { newImportKey } from "../lib/storage/index.js";
import { generate } from "./generate/run.js";
import { startDevServer } from "./server.js";

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "200000" },
    files: { type: "string", default: "20" },
    seed: { type: "string", default: "7" },
    serve: { type: "boolean", default: false },
  },
});
const out = (text = "") => process.stdout.write(`${text}\n`);
const number = (n: number) => n.toLocaleString("en-US");

interface ImportStatus {
  id: string;
  status: string;
  progress: {
    percent: number;
    rows: { total: number; done: number; failed: number };
    rate_per_s: number | null;
    eta_s: number | null;
    stalled_for_s: number | null;
  };
  counts: Record<string, number>;
  errors_by_code: Record<string, number>;
  files: Array<{ name: string; status: string; error: { code: string; message: string } | null }>;
}

async function main(): Promise<void> {
  const started = performance.now();
  const baseDir = loadConfig().dataDir;
  const dataDir = path.join(baseDir, "demo");
  await rm(dataDir, { recursive: true, force: true });
  const generatedDir = path.join(dataDir, "generated");

  out("dropflow demo");
  out(`  data directory: ${dataDir}`);
  const server = await startDevServer({
    env: {
      ...currentEnvironment(),
      DROPFLOW_DATA_DIR: dataDir,
      PORT: "0",
      LOG_LEVEL: "warn",
      DATABASE_URL: "",
      UPSTASH_REDIS_REST_URL: "",
      KV_REST_API_URL: "",
      QSTASH_TOKEN: "",
      BLOB_READ_WRITE_TOKEN: "",
    },
  });
  const base = server.url.replace("localhost", "127.0.0.1");
  const token = server.runtime.apiTokens[0] as string;
  const headers = { authorization: `Bearer ${token}` };
  out(`  server:         ${base} (embedded Postgres, queue and object storage)`);

  out(`\n1. Generating a seller's exports (${number(Number(values.rows))} purchase rows in ${values.files} files, seed ${values.seed})`);
  const summary = await generate({
    rows: Number(values.rows),
    files: Number(values.files),
    seed: String(values.seed),
    badRate: 0.01,
    out: generatedDir,
    stores: 5,
    settlements: true,
    force: true,
  });
  const purchaseFiles = summary.files.filter((file) => file.file_type === "purchases");
  const settlementFiles = summary.files.filter((file) => file.file_type === "settlements");
  out(
    `   ${purchaseFiles.length} purchase files, ${settlementFiles.length} settlement reports, ` +
      `${number(summary.totals.rejectedRows)} deliberately bad rows`,
  );

  out("\n2. Uploading through POST /api/uploads (Vercel Blob client uploads)");
  // The Blob client SDK sends file bytes to VERCEL_BLOB_API_URL, which lib/config.ts
  // points at the embedded stand-in once the object store is first opened.
  server.runtime.objectStore();
  const uploadFile = async (name: string) => {
    const body = await readFile(path.join(generatedDir, name));
    // The client picks a fresh import key; the server signs an upload to exactly that key.
    const blob = await upload(newImportKey(path.basename(name)), body, {
      access: "private",
      handleUploadUrl: `${base}/api/uploads`,
      headers,
      contentType: "text/csv",
      clientPayload: JSON.stringify({ name: path.basename(name) }),
    });
    return { key: blob.pathname, name: path.basename(name) };
  };
  // A few at a time, like a browser would.
  const uploadAll = async <T>(files: T[], one: (file: T) => Promise<unknown>) => {
    let next = 0;
    const lane = async () => {
      while (next < files.length) {
        const file = files[next++] as T;
        await one(file);
      }
    };
    await Promise.all(Array.from({ length: 4 }, lane));
  };
  const purchaseRefs: Array<{ key: string; name: string; position: number }> = [];
  await uploadAll(
    purchaseFiles.map((file, position) => ({ file, position })),
    async ({ file, position }) => purchaseRefs.push({ ...(await uploadFile(file.name)), position }),
  );
  purchaseRefs.sort((a, b) => a.position - b.position); // file order decides which version of an order wins
  const settlementRefs: Array<{ key: string; name: string; store: string }> = [];
  await uploadAll(settlementFiles, async (file) =>
    settlementRefs.push({ ...(await uploadFile(file.name)), store: file.store as string }),
  );
  out(`   ${purchaseRefs.length + settlementRefs.length} files uploaded`);

  const startImport = async (body: unknown) => {
    const response = await fetch(`${base}/api/imports`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (response.status !== 202) throw new Error(`POST /api/imports answered ${response.status}: ${await response.text()}`);
    return ((await response.json()) as { job_id: string }).job_id;
  };
  const follow = async (id: string, label: string): Promise<ImportStatus> => {
    const tty = process.stdout.isTTY;
    let lastLine = 0;
    for (;;) {
      const status = (await (await fetch(`${base}/api/imports/${id}`, { headers })).json()) as ImportStatus;
      const { percent, rows, rate_per_s, eta_s, stalled_for_s } = status.progress;
      const bar = "#".repeat(Math.round(percent / 4)).padEnd(25, ".");
      const line =
        `   ${label} [${bar}] ${percent.toFixed(1).padStart(5)}%  ${number(rows.done + rows.failed)}/${number(rows.total)} rows` +
        `  ${rate_per_s ? `${number(Math.round(rate_per_s))} rows/s` : ""}  ` +
        (stalled_for_s !== null ? `stalled for ${stalled_for_s}s` : eta_s !== null ? `ETA ${eta_s}s` : "");
      const done = !["queued", "planning", "running"].includes(status.status);
      if (tty) process.stdout.write(`\r${line.padEnd(110)}`);
      else if (done || (rows.total > 0 && Date.now() - lastLine > 2000)) {
        out(line);
        lastLine = Date.now();
      }
      if (done) {
        if (tty) out();
        return status;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  out("\n3. Importing purchases");
  const purchases = await follow(
    await startImport({ file_type: "purchases", files: purchaseRefs.map(({ key, name }) => ({ key, name })) }),
    "purchases  ",
  );
  out("\n4. Importing settlements (one import per store's reports)");
  const byStore = new Map<string, typeof settlementRefs>();
  for (const ref of settlementRefs) byStore.set(ref.store, [...(byStore.get(ref.store) ?? []), ref]);
  const settlements: ImportStatus[] = [];
  for (const [store, refs] of byStore) {
    settlements.push(
      await follow(
        await startImport({ file_type: "settlements", store, files: refs.map(({ key, name }) => ({ key, name })) }),
        store.slice(0, 11).padEnd(11),
      ),
    );
  }

  const seconds = (performance.now() - started) / 1000;
  out("\n5. Summary");
  const c = purchases.counts;
  out(`   purchases: ${purchases.status}`);
  out(
    `     rows ${number(c.rows ?? 0)}, rejected ${number(c.row_errors ?? 0)}, warnings ${number(c.warnings ?? 0)}; ` +
      `orders inserted ${number(c.orders_inserted ?? 0)}, updated ${number(c.orders_updated ?? 0)}, ` +
      `unchanged ${number(c.orders_unchanged ?? 0)}; lines ${number(c.lines ?? 0)}`,
  );
  out(`     errors by code: ${JSON.stringify(purchases.errors_by_code)}`);
  const settled = settlements.reduce((sum, s) => sum + (s.counts.settlements_inserted ?? 0), 0);
  out(`   settlements: ${settlements.map((s) => s.status).join(", ")}; ${number(settled)} settled orders`);
  const failedFiles = [...purchases.files, ...settlements.flatMap((s) => s.files)].filter((f) => f.error);
  for (const file of failedFiles) out(`     file ${file.name}: ${file.error?.code}: ${file.error?.message}`);
  out(`   expected from the generator: ${number(summary.totals.rejectedRows)} rejected rows, ${number(summary.totals.warningRows)} warnings`);
  out(`   total time: ${seconds.toFixed(1)} s`);
  out(values.serve ? "\nWhere to look next:" : "\nWhere to look next (run `npm run demo -- --serve` to keep the server up for these):");
  out(`   curl -H "authorization: Bearer ${token}" ${base}/api/imports/${purchases.id}`);
  out(`   curl -H "authorization: Bearer ${token}" "${base}/api/imports/${purchases.id}/errors?format=csv"`);
  out(`   the generated files and their manifests: ${generatedDir}`);

  if (values.serve) {
    out(`\nServing on ${base} (operator page: ${base}/). Ctrl-C stops it.`);
    const stop = () => {
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    return;
  }
  await server.close();
  const ok = purchases.status !== "failed" && settlements.every((s) => s.status !== "failed");
  process.exit(ok ? 0 : 1);
}

await main();
