/**
 * The `reconcile` job kind: the planner cuts the run's scope into keyset ranges
 * (plan.ts); each chunk decides its range in one SQL statement inside its commit
 * (decide.ts), so a range's results, its current outcomes and its "done" mark land
 * together or not at all, and a re-delivered chunk finds its range already done.
 */
import { defineJobKind, type JobKind } from "../jobs/kind.js";
import { decideRange } from "./decide.js";
import { RECONCILE_KIND, ReconcileParams, ReconcilePayload } from "./params.js";
import { planReconcile } from "./plan.js";

/**
 * Chunks of one run in flight at once: each is a heavy query, and more of them than the
 * database has cores only queue up inside it.
 */
const RECONCILE_PARALLELISM = 4;

export function createReconcileKind(deps: { chunkInvoices: () => number }): JobKind {
  return defineJobKind({
    kind: RECONCILE_KIND,
    params: ReconcileParams,
    payload: ReconcilePayload,
    delivery: { parallelism: RECONCILE_PARALLELISM },
    plan: ({ db, params }) => planReconcile(db, params, deps.chunkInvoices()),
    processChunk: ({ job, params, payload, commit }) =>
      commit((tx) => decideRange(tx, { jobId: job.id, params }, payload)),
  });
}
