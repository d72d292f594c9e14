/**
 * A sync suite's app: the dev server in process (real Postgres, embedded queue and
 * KV) with the eMAG and SAP simulators, their limits scaled so that nothing waits in
 * real time: eMAG 40 req/s for both the simulator and the account's pace.
 */
import { sql } from "drizzle-orm";
import { queryRows } from "../../lib/db/client.js";
import { emagAccountFor } from "../../dev/sim/upstreams.js";
import type { EmagSimulator } from "../../dev/sim/emag/server.js";
import type { SapSimulator } from "../../dev/sim/sap/server.js";
import { SIM_SAP_LOGIN } from "../../dev/sim/upstreams.js";
import { type AppServer, startAppServer } from "../support/app-server.js";
import { waitForStatus } from "../support/job-status.js";

export { maxInWindow } from "../../dev/sim/request-log.js";

export const SCALED_EMAG = { perSecond: 40, perMinute: 2400 };

export interface SyncApp {
  app: AppServer;
  emag: EmagSimulator;
  sap: SapSimulator;
  /** Simulators back to their seed and the scaled limits; the catalogue and runs emptied. */
  reset(options?: { offers?: number; items?: number; seed?: number }): Promise<void>;
  /** Points the eMAG account at the simulator with this pace (and a password). */
  setEmagAccount(options?: { ratePerSecond?: number; ratePerMinute?: number; password?: string }): void;
  start(source: "emag" | "sap", body?: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Waits for the run to end and returns its record. */
  finish(jobId: string, timeoutMs?: number): Promise<RunRecord>;
  run(source: "emag" | "sap", body?: Record<string, unknown>): Promise<RunRecord>;
  catalogue(source: "emag" | "sap"): Promise<CatalogueRow[]>;
}

export interface RunRecord {
  id: string;
  status: string;
  reason: string | null;
  mode: string;
  expected: { at_start: number | null; at_end: number | null };
  seen_unique: number | null;
  items: { created: number; updated: number; unchanged: number; duplicates: number; rejected: number; retired: number };
  pages: { read: number; failed: number; cap_hit: boolean };
  requests: { total: number; throttled_429: number; retries: number; logins: number; logouts: number; rate_per_s: number | null };
  duration_s: number;
}

export interface CatalogueRow extends Record<string, unknown> {
  external_id: string;
  handle: string;
  name: string | null;
  sku: string | null;
  price: string | null;
  currency: string | null;
  stock: number | null;
  status: string | null;
  retired: boolean;
}

export async function startSyncApp(env: Record<string, string> = {}, sizes: { offers?: number; items?: number } = {}): Promise<SyncApp> {
  const app = await startAppServer("sync-test-token-0123456789", env, { simulators: { offers: sizes.offers ?? 250, items: sizes.items ?? 230 } });
  const sims = app.server.simulators;
  if (!sims?.emag || !sims.sap) throw new Error("the simulators did not start");
  const emag = sims.emag;
  const sap = sims.sap;
  const setEmagAccount: SyncApp["setEmagAccount"] = (options = {}) => {
    const account = emagAccountFor(emag.url, {
      ratePerSecond: options.ratePerSecond ?? SCALED_EMAG.perSecond,
      ratePerMinute: options.ratePerMinute ?? SCALED_EMAG.perMinute,
    });
    app.server.runtime.attachUpstreams({ emag: [{ ...account, password: options.password ?? account.password }] });
  };
  const scale = () => emag.configure({ rateLimit: { other: SCALED_EMAG } });
  scale();
  setEmagAccount();
  const start: SyncApp["start"] = async (source, body = {}) => {
    const response = await app.api(`/api/sync/${source}`, { method: "POST", body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const finish: SyncApp["finish"] = (jobId, timeoutMs = 30_000) =>
    waitForStatus(async () => (await (await app.api(`/api/sync/runs/${jobId}`)).json()) as RunRecord, { timeoutMs, what: `sync run ${jobId}` });
  return {
    app,
    emag,
    sap,
    async reset(options = {}) {
      const { db } = await app.server.runtime.database();
      // A run a test left going would write into the next test's catalogue.
      const engine = await app.server.runtime.engine();
      const active = await queryRows<{ id: string }>(db, sql`select id from jobs where kind = 'sync' and status in ('queued', 'planning', 'running')`);
      for (const { id } of active) await engine.cancel(id);
      await db.execute(sql`truncate catalogue_items, sync_runs`);
      emag.reset();
      sap.reset();
      // reset() returns to the latest seed, which a test may have changed: seed afresh.
      emag.seed(options.seed ?? 1, [{ username: "dropflow", password: "dropflow-sim", offers: options.offers ?? sizes.offers ?? 250 }]);
      sap.seed(options.seed ?? 1, [
        { companyDb: SIM_SAP_LOGIN.companyDb, users: [{ name: SIM_SAP_LOGIN.user, password: SIM_SAP_LOGIN.password }], items: options.items ?? sizes.items ?? 230 },
      ]);
      scale();
      setEmagAccount();
    },
    setEmagAccount,
    start,
    finish,
    async run(source, body) {
      const started = await start(source, body);
      if (started.status !== 202) throw new Error(`POST /api/sync/${source} answered ${started.status}: ${JSON.stringify(started.body)}`);
      return finish(String(started.body.job_id));
    },
    async catalogue(source) {
      const { db } = await app.server.runtime.database();
      return queryRows<CatalogueRow>(
        db,
        sql`select external_id, handle, name, sku, price::text as price, currency, stock, status, retired_at is not null as retired
            from catalogue_items where source = ${source} order by external_id`,
      );
    },
  };
}
