/**
 * What the CLI prints for people at the end of a command: the same numbers the API
 * answers, under the API's own names (a count is `orders_inserted`, not a paraphrase),
 * so what a person reads is what a script finds with --json.
 */
import { bytes, count, rupiah, table } from "./output.js";
import type { ImportView, JobView, MarginReport, ReconcileView, RowError, SyncRunView } from "./responses.js";

/** "12.3 s" between two API times, or "" while the job runs. */
function took(createdAt: string, finishedAt: string | null): string {
  if (finishedAt === null) return "";
  return `in ${((Date.parse(finishedAt) - Date.parse(createdAt)) / 1000).toFixed(1)} s`;
}

/** Name-and-number lines, the names padded to the longest. */
function countLines(counts: Record<string, number>, indent = "  "): string[] {
  const names = Object.keys(counts);
  const width = Math.max(0, ...names.map((name) => name.length));
  const numbers = names.map((name) => count(counts[name] ?? 0));
  const numberWidth = Math.max(0, ...numbers.map((n) => n.length));
  return names.map((name, i) => `${indent}${name.padEnd(width)}  ${(numbers[i] ?? "").padStart(numberWidth)}`);
}

const byCode = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([code, n]) => `${code} ${count(n)}`)
    .join(", ");

export function rowErrorLine(error: RowError): string {
  const column = error.column ? ` ${error.column}` : "";
  // A workbook's error names its cell as Excel does (Income!H57) after the line (= Excel's row).
  const cell = error.cell ? ` ${error.cell}` : "";
  return `${error.file}:${error.line}${cell}${column}  ${error.code}  ${error.message}`;
}

export function importSummary(view: ImportView): string[] {
  const what = [view.file_type ?? "import", `${view.files.length} file${view.files.length === 1 ? "" : "s"}`, view.dry_run ? "dry run" : ""]
    .filter(Boolean)
    .join(", ");
  const lines = [`import ${view.id}  ${view.status}  ${what}  ${took(view.created_at, view.finished_at)}`.trimEnd(), "counts", ...countLines(view.counts)];
  if (Object.keys(view.errors_by_code).length > 0) lines.push(`errors by code: ${byCode(view.errors_by_code)}`);
  lines.push("files");
  lines.push(
    ...table(
      ["  name", "status", "size", "error"],
      view.files.map((file) => [`  ${file.name}`, file.status, bytes(file.size), file.error ? `${file.error.code}: ${file.error.message}` : ""]),
      new Set([2]),
    ).slice(1),
  );
  if (view.first_errors.length > 0) {
    lines.push("first row errors");
    lines.push(...view.first_errors.slice(0, 5).map((error) => `  ${rowErrorLine(error)}`));
    lines.push(`all of them: dropflow errors ${view.id} --csv`);
  }
  if (view.last_error) lines.push(`last error: ${view.last_error}`);
  if (view.reconcile_job_id) lines.push(`reconcile run: ${view.reconcile_job_id}`);
  return lines;
}

export function reconcileSummary(view: ReconcileView): string[] {
  const filters = [
    `store ${view.filters.store ?? "every store"}`,
    view.filters.from || view.filters.to ? `orders ${view.filters.from ?? "…"} to ${view.filters.to ?? "…"}` : "every order date",
    `tolerance ${rupiah(view.filters.tolerance)}`,
  ].join(", ");
  const lines = [`reconcile ${view.id}  ${view.status}  ${took(view.created_at, view.finished_at)}`.trimEnd(), `  ${filters}`];
  lines.push(
    ...table(
      ["outcome", "invoices", "expected", "actual", "diff"],
      Object.entries(view.counts).map(([outcome, n]) => {
        const amounts = view.amounts[outcome];
        return [outcome, count(n), rupiah(amounts?.expected ?? 0), rupiah(amounts?.actual ?? 0), rupiah(amounts?.diff ?? 0)];
      }),
      new Set([1, 2, 3, 4]),
    ).map((line) => `  ${line}`),
  );
  lines.push(`split invoices: ${count(view.split_invoices)}`);
  lines.push(
    `missing settlements by days since the order: ${Object.entries(view.aging)
      .map(([bucket, n]) => `${bucket} ${count(n)}`)
      .join(", ")}`,
  );
  if (view.last_error) lines.push(`last error: ${view.last_error}`);
  return lines;
}

export function syncSummary(run: SyncRunView): string[] {
  const expected = (n: number | null) => (n === null ? "?" : count(n));
  return [
    `sync ${run.id}  ${run.source}/${run.account}  ${run.mode}  ${run.status}  in ${run.duration_s} s`,
    ...(run.reason ? [`  reason: ${run.reason}`] : []),
    `  upstream counted ${expected(run.expected.at_start)} at the start and ${expected(run.expected.at_end)} at the end; seen ${expected(run.seen_unique)} unique`,
    "items",
    ...countLines({
      created: run.items.created,
      updated: run.items.updated,
      unchanged: run.items.unchanged,
      duplicates: run.items.duplicates,
      rejected: run.items.rejected,
      retired: run.items.retired,
    }),
    `pages: ${count(run.pages.read)} read, ${count(run.pages.failed)} failed`,
    `requests: ${count(run.requests.total)} at ${run.requests.rate_per_s ?? 0}/s, ${count(run.requests.throttled_429)} answered 429, ` +
      `${count(run.requests.retries)} retries, ${count(run.requests.logins)} logins`,
  ];
}

export function jobSummary(view: JobView): string[] {
  const { rows } = view.progress;
  return [
    `job ${view.id}  ${view.kind}  ${view.status}  ${took(view.created_at, view.finished_at)}`.trimEnd(),
    `  rows: ${count(rows.done)} done, ${count(rows.failed)} failed, of ${view.progress.total_known ? count(rows.total) : "?"}`,
    ...(Object.keys(view.counters).length > 0 ? ["counters", ...countLines(view.counters)] : []),
    ...(view.last_error ? [`last error: ${view.last_error}`] : []),
  ];
}

export function marginTable(report: MarginReport): string[] {
  const figures = (key: string, r: MarginReport["totals"]) => [
    key,
    count(r.orders),
    rupiah(r.gross_sales),
    rupiah(r.net_payout),
    rupiah(r.supplier_cost),
    rupiah(r.net_margin),
    r.net_margin_pct === null ? "" : `${r.net_margin_pct.toFixed(2)} %`,
    rupiah(r.unsettled),
  ];
  return table(
    [report.group, "orders", "gross sales", "net payout", "supplier cost", "net margin", "margin", "unsettled"],
    [...report.rows.map((row) => figures(row.key ?? "(no line)", row)), figures("TOTAL", report.totals)],
    new Set([1, 2, 3, 4, 5, 6, 7]),
  );
}

/** One line of `dropflow runs`. */
export interface RunEntry {
  type: "import" | "reconcile" | "sync";
  id: string;
  status: string;
  created_at: string;
  /** What it is about, in a few words. */
  about: string;
}

export function runsTable(entries: readonly RunEntry[]): string[] {
  return table(
    ["created (UTC)", "type", "id", "status", "about"],
    entries.map((entry) => [entry.created_at.replace("T", " ").slice(0, 19), entry.type, entry.id, entry.status, entry.about]),
  );
}
