/**
 * The Reconcile view: a form that starts a run (POST /api/reconcile), the recent runs
 * (GET /api/reconcile) with live progress, and one run's details (reconcile-run.js).
 */
import { api, newUuid } from "../api.js";
import { byId, say } from "../dom.js";
import { dateTime, shortId } from "../format.js";
import { jobList } from "../job-list.js";
import { poller } from "../poll.js";
import { isActive } from "../status.js";
import { reconcileRunDetail, scopeOf } from "./reconcile-run.js";

const LIST_SIZE = 20;

export function mountReconcile({ navigate, reportError }) {
  const list = jobList({
    label: "Recent reconcile runs",
    unit: "invoices",
    href: (run) => `#reconcile/${run.id}`,
    title: (run) => `Run ${shortId(run.id)}`,
    details: (run) => `${dateTime(run.created_at)} · ${scopeOf(run.filters)}${run.after_import ? " · after an import" : ""}`,
    empty: "No reconcile runs yet.",
  });
  byId("reconcile-list").append(list.node);
  const detail = reconcileRunDetail(byId("reconcile-detail"), { reportError });
  let selected = null;

  const refresh = async () => {
    const page = await api(`/api/reconcile?limit=${LIST_SIZE}`);
    list.update(page.runs, selected);
    const running = selected ? await detail.show(selected) : false;
    return running || page.runs.some((run) => isActive(run.status));
  };
  const polling = poller(refresh, reportError);
  detail.onChange(() => polling.now());

  const form = byId("reconcile-form");
  const message = byId("reconcile-message");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = new FormData(form);
    const body = {};
    for (const name of ["store", "from", "to", "status"]) {
      const value = String(fields.get(name) ?? "").trim();
      if (value !== "") body[name] = value;
    }
    const tolerance = String(fields.get("tolerance") ?? "").trim();
    if (tolerance !== "") body.tolerance = Number(tolerance);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const created = await api("/api/reconcile", { method: "POST", body, idempotencyKey: newUuid() });
      say(message, `Run ${shortId(created.job_id)} started.`, "ok");
      navigate(`#reconcile/${created.job_id}`);
    } catch (error) {
      const running = error.code === "import_running" ? " Wait for the import to end, then run it again." : "";
      say(message, `${error.message}${running}`, "bad");
    } finally {
      button.disabled = false;
    }
  });

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
  };
}
