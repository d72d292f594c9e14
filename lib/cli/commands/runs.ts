/**
 * `dropflow runs [--limit n]`: the latest imports, reconcile runs and sync runs
 * together, newest first (each list from its own route, merged by creation time).
 */
import { z } from "zod";
import type { CommandContext } from "../context.js";
import { EXIT, type ExitCode } from "../exit-codes.js";
import { count } from "../output.js";
import { ImportList, ReconcileList, SyncRunList } from "../responses.js";
import { type RunEntry, runsTable } from "../summaries.js";

/** What a runs line says of an import, from its job params (`kind` is file_type's older name). */
const ImportParams = z
  .object({ file_type: z.string().optional(), kind: z.string().optional(), files: z.array(z.unknown()).optional() })
  .loose();

export async function runsCommand(ctx: CommandContext, limit: number): Promise<ExitCode> {
  const { api, out } = ctx;
  const [imports, reconciles, syncs] = await Promise.all([
    api.get("/api/imports", ImportList, { limit }),
    api.get("/api/reconcile", ReconcileList, { limit }),
    api.get("/api/sync/runs", SyncRunList, { limit }),
  ]);
  const runs = [
    ...imports.imports.map((view) => ({ type: "import" as const, ...view })),
    ...reconciles.runs.map((view) => ({ type: "reconcile" as const, ...view })),
    ...syncs.runs.map((view) => ({ type: "sync" as const, ...view })),
  ]
    .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || (a.id < b.id ? 1 : -1))
    .slice(0, limit);

  out.data({ runs });
  const entries: RunEntry[] = runs.map((run) => {
    const base = { type: run.type, id: run.id, status: run.status, created_at: run.created_at };
    if (run.type === "import") {
      const params = ImportParams.safeParse(run.params);
      const fileType = params.success ? (params.data.file_type ?? params.data.kind ?? "") : "";
      const files = params.success ? (params.data.files?.length ?? 0) : 0;
      return { ...base, about: `${fileType}, ${files} file${files === 1 ? "" : "s"}, ${count(run.progress.rows.done + run.progress.rows.failed)} rows` };
    }
    if (run.type === "reconcile") {
      const invoices = Object.values(run.counts).reduce((sum, n) => sum + n, 0);
      const dates = run.filters.from || run.filters.to ? `, ${run.filters.from ?? "…"} to ${run.filters.to ?? "…"}` : "";
      return { ...base, about: `${run.filters.store ?? "every store"}${dates}, ${count(invoices)} invoices` };
    }
    return {
      ...base,
      about: `${run.source}/${run.account} ${run.mode}, ${count(run.items.created)} created, ${count(run.items.updated)} updated`,
    };
  });
  if (entries.length === 0) out.line("no runs yet");
  else out.lines(runsTable(entries));
  return EXIT.done;
}
