/**
 * The Imports view: the upload form, the recent imports (GET /api/imports) with live
 * progress, and one import's details (GET /api/imports/:id): its counts, its files,
 * its errors by code with CSV downloads, and retry and cancel.
 */
import { api, download } from "../api.js";
import { byId, el, facts, fill, say, table } from "../dom.js";
import { bytes, count, dateTime, shortId, words } from "../format.js";
import { jobList } from "../job-list.js";
import { poller } from "../poll.js";
import { progressBar } from "../progress.js";
import { isActive, statusBadge } from "../status.js";
import { storeName } from "../stores.js";
import { mountUpload } from "./upload.js";

const LIST_SIZE = 20;

const titleOf = (job) => `${words(job.params?.file_type ?? job.params?.kind ?? "import")} ${shortId(job.id)}`;

export function mountImports({ navigate, reportError }) {
  const list = jobList({
    label: "Recent imports",
    unit: "rows",
    href: (job) => `#imports/${job.id}`,
    title: titleOf,
    details: (job) => {
      const files = job.params?.files ?? [];
      const store = job.params?.store_id ? ` · ${storeNames.get(job.params.store_id) ?? ""}` : "";
      const dry = job.params?.dry_run ? " · dry run" : "";
      return `${dateTime(job.created_at)} · ${count(files.length)} file${files.length === 1 ? "" : "s"}${store}${dry}`;
    },
    empty: "No imports yet: drop CSV files above to start one.",
  });
  byId("imports-list").append(list.node);
  const detail = importDetail(byId("import-detail"), reportError);
  let selected = null;

  // Settlement imports name their store by id.
  const storeNames = new Map();
  const refresh = async () => {
    const page = await api(`/api/imports?limit=${LIST_SIZE}`);
    for (const job of page.imports) {
      const id = job.params?.store_id;
      if (id && !storeNames.has(id)) storeNames.set(id, await storeName(id));
    }
    list.update(page.imports, selected);
    const shown = selected ? await detail.show(selected) : false;
    return shown || page.imports.some((job) => isActive(job.status));
  };
  const polling = poller(refresh, reportError);
  mountUpload({ onImportStarted: (jobId) => navigate(`#imports/${jobId}`) });
  detail.onChange(() => polling.now());

  return {
    show(id) {
      selected = id ?? null;
      if (!selected) detail.clear();
      polling.start();
      polling.now();
    },
    hide() {
      polling.stop();
    },
    refresh: () => polling.now(),
  };
}

/** One import's details, built once per import and updated in place on each poll. */
function importDetail(panel, reportError) {
  let current = null;
  let changed = () => {};

  function build(id) {
    const heading = el("h3", { id: "import-detail-title", tabindex: "-1" }, `Import ${shortId(id)}`);
    const badge = el("p", { class: "job-status" });
    const bar = progressBar("Import progress", "rows");
    const summary = el("div");
    const counts = el("div", { dataset: { part: "counts" } });
    const files = el("div");
    const errors = el("div");
    const actionsMessage = el("p", { class: "message", role: "status", hidden: true });
    const retry = el("button", { type: "button", class: "secondary", hidden: true }, "Retry failed chunks");
    const cancel = el("button", { type: "button", class: "danger", hidden: true }, "Cancel import");
    const actions = el("div", { class: "actions" }, retry, cancel);
    const act = (button, path, done) =>
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          const answer = await api(path(), { method: "POST" });
          say(actionsMessage, done(answer), "ok");
          changed();
        } catch (error) {
          say(actionsMessage, error.message, "bad");
        } finally {
          button.disabled = false;
        }
      });
    act(retry, () => `/api/imports/${id}/retry`, (answer) => `${count(answer.retried_chunks)} chunks are running again.`);
    act(cancel, () => `/api/jobs/${id}/cancel`, () => "Cancelled: what was written before the cancel stays counted.");
    fill(
      panel,
      heading,
      badge,
      bar.node,
      summary,
      actions,
      actionsMessage,
      el("h4", {}, "Counts"),
      counts,
      el("h4", {}, "Files"),
      files,
      el("h4", {}, "Errors by code"),
      errors,
    );
    return { id, heading, badge, bar, summary, counts, files, errors, retry, cancel, errorsKey: null };
  }

  function update(view, status) {
    fill(view.badge, statusBadge(status.status));
    view.bar.update(status.progress, isActive(status.status));
    const reconcileLink = status.reconcile_job_id
      ? el("a", { href: `#reconcile/${status.reconcile_job_id}` }, `reconcile run ${shortId(status.reconcile_job_id)}`)
      : status.reconcile
        ? "starts when the import ends"
        : "no";
    fill(
      view.summary,
      facts([
        ["File type", words(status.file_type)],
        ["Started", dateTime(status.created_at)],
        ["Finished", dateTime(status.finished_at)],
        ["Dry run", status.dry_run ? "yes: nothing was written" : "no"],
        ["Reconcile after", reconcileLink],
        ...(status.last_error ? [["Last error", status.last_error]] : []),
      ]),
    );
    const interesting = Object.entries(status.counts).filter(([name, value]) => value !== 0 || name === "rows" || name === "row_errors");
    fill(view.counts, facts(interesting.map(([name, value]) => [words(name), count(value), name])));
    fill(
      view.files,
      table({
        caption: `${status.files.length} file${status.files.length === 1 ? "" : "s"}, in import order`,
        head: ["File", "Size", "Status", "Rows", "Rejected", "Problem"],
        numeric: [1, 3, 4],
        rows: status.files.map((file) => [
          // A workbook shows the sheet it was read from.
          file.sheet ? `${file.name} (sheet ${file.sheet})` : file.name,
          bytes(file.size),
          statusBadge(file.status),
          count(file.counts.rows ?? 0),
          count(file.counts.row_errors ?? 0),
          file.error ? `${file.error.code}: ${file.error.message}` : "",
        ]),
      }),
    );
    const active = isActive(status.status);
    view.cancel.hidden = !active;
    view.retry.hidden = active || status.status === "cancelled" || status.progress.chunks.failed === 0;
    // Rebuilt only when the codes change, so a download button keeps its focus.
    const errorsKey = JSON.stringify(status.errors_by_code);
    if (errorsKey !== view.errorsKey) {
      view.errorsKey = errorsKey;
      fill(view.errors, errorsTable(status.id, status.errors_by_code, status.first_errors, reportError));
    }
  }

  return {
    onChange(listener) {
      changed = listener;
    },
    clear() {
      current = null;
      fill(panel, el("h3", { id: "import-detail-title" }, "Import details"), el("p", { class: "empty" }, "Choose an import to see its counts, files and errors."));
    },
    /** Shows import `id` (building its panel when it is a new one); resolves true while it runs. */
    async show(id) {
      const status = await api(`/api/imports/${encodeURIComponent(id)}`);
      const fresh = current?.id !== id;
      if (fresh) current = build(id);
      update(current, status);
      if (fresh) current.heading.focus({ preventScroll: false });
      return isActive(status.status) || status.files.some((file) => isActive(file.status));
    },
  };
}

/** Errors by code, each with a download of its rows as CSV, one for all of them, and the first few rows. */
function errorsTable(importId, byCode, firstErrors, reportError) {
  const codes = Object.entries(byCode);
  if (codes.length === 0) return el("p", { class: "empty" }, "No row errors or warnings.");
  const message = el("p", { class: "message", role: "status", hidden: true });
  const downloadButton = (label, code) =>
    el(
      "button",
      {
        type: "button",
        class: "link",
        onclick: async () => {
          const query = new URLSearchParams({ format: "csv" });
          if (code) query.set("code", code);
          try {
            const saved = await download(`/api/imports/${importId}/errors?${query}`, `import-${importId}-errors.csv`);
            say(message, `Saved ${saved.name} (${bytes(saved.size)}).`, "ok");
          } catch (error) {
            reportError(error);
            say(message, `The download failed: ${error.message}`, "bad");
          }
        },
      },
      label,
    );
  const total = codes.reduce((sum, [, n]) => sum + n, 0);
  return el(
    "div",
    {},
    table({
      head: ["Code", "Rows", "Download"],
      numeric: [1],
      rows: codes.map(([code, n]) => [code, count(n), downloadButton(`CSV of ${code}`, code)]),
      foot: ["All codes", count(total), downloadButton("CSV of all errors", null)],
    }),
    message,
    table({
      caption: `The first ${firstErrors.length} in the order found`,
      head: ["File", "Line", "Column", "Code", "Message"],
      numeric: [1],
      // A workbook's error: its line is Excel's row, and its cell (Income!H57) goes with the column.
      rows: firstErrors.map((error) => [
        error.file,
        count(error.line),
        [error.column, error.cell].filter(Boolean).join(" · "),
        error.code,
        error.message,
      ]),
    }),
  );
}
