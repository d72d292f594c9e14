/**
 * The generator's files landed through the real import API: purchases in one import,
 * then each store's settlement reports in one import per store (a settlement import
 * names its store), as a seller would.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Summary } from "../../dev/generate/run.js";
import { newImportKey } from "../../lib/storage/index.js";
import type { AppServer } from "./app-server.js";
import { waitForImport } from "./job-status.js";

export interface LandedImport {
  job_id: string;
  status: string;
  counts: Record<string, number>;
}

/** Imports every file of `summary` (written under `dir`); extra fields go into each import's body. */
export async function importGenerated(
  app: AppServer,
  summary: Summary,
  dir: string,
  extra: Record<string, unknown> = {},
): Promise<LandedImport[]> {
  const ref = async (name: string) => {
    const key = newImportKey(path.basename(name));
    await app.server.runtime.objectStore().put(key, readFileSync(path.join(dir, name)), { contentType: "text/csv" });
    return { key, name: path.basename(name) };
  };
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : 1);
  const purchases = summary.files.filter((f) => f.file_type === "purchases").sort(byName);
  const landed = [await runImport(app, { file_type: "purchases", files: await Promise.all(purchases.map((f) => ref(f.name))), ...extra })];
  const stores = new Map<string, string[]>();
  for (const file of summary.files.filter((f) => f.file_type === "settlements").sort(byName)) {
    stores.set(file.store as string, [...(stores.get(file.store as string) ?? []), file.name]);
  }
  for (const [store, names] of stores) {
    landed.push(await runImport(app, { file_type: "settlements", store, files: await Promise.all(names.map(ref)), ...extra }));
  }
  return landed;
}

async function runImport(app: AppServer, body: Record<string, unknown>): Promise<LandedImport> {
  const created = await app.api("/api/imports", { method: "POST", body: JSON.stringify(body) });
  if (created.status !== 202) throw new Error(`import refused: ${created.status} ${await created.text()}`);
  const { job_id } = (await created.json()) as { job_id: string };
  const status = await waitForImport<LandedImport>(app, job_id, { timeoutMs: 120_000 });
  return { ...status, job_id };
}
