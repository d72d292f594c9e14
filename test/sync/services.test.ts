/**
 * Sync across processes (local services mode): two worker processes, real Postgres,
 * real Redis behind the Upstash bridge (the eMAG pace and the SAP session live
 * there), the QStash stand-in, and the simulators in their own process. Each first
 * worker exits for real right after its third sync commit, before Redis hears of it.
 *  - a burst of API starts and cron ticks from both workers starts one run, and the
 *    simulator's log never shows the account's limit exceeded;
 *  - runs whose workers died end with exactly the simulator's data, handles included.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalServices, startLocalServices } from "../../dev/services.js";
import { handleFor } from "../../lib/sync/items.js";
import { availablePostgres } from "../support/databases.js";
import { waitForStatus } from "../support/job-status.js";
import { expectAWorkerCrashed, requestSurvivingCrashes } from "../support/worker-crashes.js";
import { maxInWindow } from "./harness.js";

const postgres = availablePostgres();
const LIMIT = { perSecond: 20, perMinute: 1200 };
const METRICS_TOKEN = "sync-services-metrics-token-0123";

describe.skipIf(!postgres)("sync in local services mode, workers dying after their commits", () => {
  let services: LocalServices;
  let sims: { emag: string; sap: string };

  beforeAll(async () => {
    services = await startLocalServices({
      workers: 2,
      simulators: { offers: 6000, items: 2000, ratePerSecond: LIMIT.perSecond, ratePerMinute: LIMIT.perMinute },
      env: {
        DROPFLOW_FAULT_CRASH_AFTER_COMMIT: "3",
        DROPFLOW_FAULT_CRASH_KIND: "sync",
        DROPFLOW_MAX_DURATION_S: "3",
        DROPFLOW_DEADLINE_MARGIN_S: "0.5",
        DROPFLOW_LEASE_S: "4",
        DROPFLOW_STALL_S: "1",
        DROPFLOW_SYNC_REQUEST_TIMEOUT_S: "1",
        DROPFLOW_SYNC_SAP_PAGE_SIZE: "50",
        METRICS_TOKEN,
        // Job lifecycle events are INFO: the searchable logs need them emitted.
        LOG_LEVEL: "info",
      },
    });
    if (!services.simulators) throw new Error("local services started no simulators");
    sims = services.simulators;
    await control(sims.emag, "/__sim/config", { rateLimit: { other: LIMIT } });
  }, 120_000);
  afterAll(() => services?.stop());

  async function control(base: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${base}${path}`, body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(response.status, path).toBe(200);
    return response.json();
  }

  const request = (path: string, init: RequestInit = {}, bearer = services.apiToken) =>
    requestSurvivingCrashes(services, path, {
      ...init,
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json", ...init.headers },
    });

  const finish = (id: string) =>
    waitForStatus(async () => (await (await request(`/api/sync/runs/${id}`)).json()) as { status: string; seen_unique: number; requests: Record<string, number> }, {
      timeoutMs: 90_000,
      intervalMs: 200,
      what: `sync run ${id}`,
    });

  async function catalogue(source: string) {
    const client = new pg.Client({ connectionString: services.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ external_id: string; handle: string; name: string }>(
        "select external_id, handle, name from catalogue_items where source = $1 and retired_at is null order by external_id",
        [source],
      );
      return rows;
    } finally {
      await client.end();
    }
  }

  it("a burst of starts from both workers runs once, under the account's limit, and survives dying workers", { timeout: 120_000 }, async () => {
    const before = services.pids.workers;
    const starts = await Promise.all([
      ...Array.from({ length: 4 }, () => request("/api/sync/emag", { method: "POST", body: "{}" })),
      ...Array.from({ length: 3 }, () => request("/api/cron/sync-emag", {}, services.cronSecret)),
    ]);
    const bodies = (await Promise.all(starts.map((response) => response.json()))) as Array<Record<string, unknown>>;
    const ids = new Set<string>();
    for (const [i, response] of starts.entries()) {
      const body = bodies[i] as { job_id?: string; error?: { job_id: string }; started?: Array<{ job_id: string }>; running?: Array<{ job_id: string }> };
      if (response.status === 202) ids.add(String(body.job_id));
      else if (response.status === 409) ids.add(String(body.error?.job_id));
      else {
        expect(response.status).toBe(200);
        for (const run of [...(body.started ?? []), ...(body.running ?? [])]) ids.add(run.job_id);
      }
    }
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    const run = await finish(id as string);
    expect(run).toMatchObject({ status: "completed", seen_unique: 6000 });
    expectAWorkerCrashed(services, before);

    const { requests } = (await control(sims.emag, "/__sim/requests")) as { requests: Array<{ at: number; status: number }> };
    expect(requests.filter((r) => r.status === 429)).toEqual([]);
    expect(maxInWindow(requests.map((r) => r.at), 1000)).toBeLessThanOrEqual(LIMIT.perSecond);
    expect(run.requests.throttled_429).toBe(0);
    // Every request is counted in the run record, though workers died mid-run: counted just
    // before it goes out, so a worker killed in that instant (each dies with up to 4 chunks in
    // flight) can count a few that never arrived, never miss one that did.
    expect(run.requests.total).toBeGreaterThanOrEqual(requests.length);
    expect(run.requests.total).toBeLessThanOrEqual(requests.length + 8);
    const { offers } = (await control(sims.emag, "/__sim/offers?account=dropflow")) as { offers: Array<{ id: number; name: string }> };
    expect(await catalogue("emag")).toEqual(
      offers
        .map((offer) => ({ external_id: String(offer.id), handle: handleFor("emag", "sim", String(offer.id), offer.name), name: offer.name }))
        .sort((a, b) => (a.external_id < b.external_id ? -1 : 1)),
    );
  });

  it("a SAP run whose workers die ends with every item, on one shared session, logged out once", { timeout: 120_000 }, async () => {
    const started = await request("/api/sync/sap", { method: "POST", body: JSON.stringify({ mode: "full" }), headers: { "x-correlation-id": "sap-run-followed" } });
    expect(started.status).toBe(202);
    const run = await finish(String(((await started.json()) as { job_id: string }).job_id));
    expect(run).toMatchObject({ status: "completed", seen_unique: 2000 });
    const { items } = (await control(sims.sap, "/__sim/items?company=SBODEMO")) as { items: Array<{ ItemCode: string; ItemName: string }> };
    expect(await catalogue("sap")).toEqual(
      items.map((item) => ({ external_id: item.ItemCode, handle: handleFor("sap", "SBODEMO", item.ItemCode, item.ItemName), name: item.ItemName })),
    );
    await expect
      .poll(async () => ((await control(sims.sap, "/__sim/requests")) as { requests: Array<{ route: string }> }).requests.filter((r) => r.route === "Logout").length, {
        timeout: 10_000,
      })
      .toBe(1);
    const { requests } = (await control(sims.sap, "/__sim/requests")) as { requests: Array<{ route: string }> };
    expect(requests.filter((r) => r.route === "Login")).toHaveLength(1);

    // Following the run's correlation id: every function that touched it, in order, each
    // record naming its process. (Which worker takes a delivery is the kernel's choice on
    // the shared port: on a loaded machine one worker can take them all.) The finalising
    // delivery stores its records when it ends, which can be just after the run reads ended.
    type Logs = { records: Array<{ time: string; event: string | null; fields: { pid?: number } }> };
    const followed = async () => (await (await request("/api/logs?correlation_id=sap-run-followed&limit=1000")).json()) as Logs;
    await expect.poll(async () => (await followed()).records.map((record) => record.event), { timeout: 15_000 }).toContain("job_finalised");
    const logs = await followed();
    const events = logs.records.map((record) => record.event);
    expect(events).toContain("job_created");
    expect(events).toContain("job_planned");
    expect(events.filter((event) => event === "chunk_completed").length).toBeGreaterThanOrEqual(2);
    expect(events).toContain("job_finalised");
    const times = logs.records.map((record) => record.time);
    expect(times).toEqual([...times].sort());
    expect(logs.records.filter((record) => typeof record.fields.pid !== "number")).toEqual([]);
  });

  it("two workers feed one consistent set of metrics: the scrape equals the database's counts", async () => {
    const scrape = await request("/api/metrics", {}, METRICS_TOKEN);
    expect(scrape.status).toBe(200);
    const body = await scrape.text();
    const value = (series: string) => Number(body.split("\n").find((line) => line.startsWith(`${series} `))?.slice(series.length + 1) ?? 0);
    const client = new pg.Client({ connectionString: services.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ done: number; rows: number; jobs: number }>(
        `select count(*) filter (where c.status = 'done')::int as done, coalesce(sum(c.rows_done), 0)::int as rows,
                (select count(*)::int from jobs where kind = 'sync' and status = 'completed') as jobs
         from job_chunks c join jobs j on j.id = c.job_id where j.kind = 'sync'`,
      );
      const db = rows[0];
      expect(value('dropflow_chunks_total{kind="sync",outcome="done"}')).toBe(db?.done);
      expect(value('dropflow_rows_total{kind="sync",outcome="processed"}')).toBe(db?.rows);
      expect(value('dropflow_jobs_finished_total{kind="sync",status="completed"}')).toBe(db?.jobs);
    } finally {
      await client.end();
    }
    const { requests } = (await control(sims.emag, "/__sim/requests")) as { requests: unknown[] };
    const upstream = ["ok", "throttled", "transient", "bad_data", "fatal"].reduce(
      (sum, outcome) => sum + value(`dropflow_upstream_requests_total{source="emag",outcome="${outcome}"}`),
      0,
    );
    // A request's outcome is counted when its answer comes: a worker killed while it waited
    // (each dies with up to 4 chunks in flight) takes those few with it, never more.
    expect(upstream).toBeLessThanOrEqual(requests.length);
    expect(upstream).toBeGreaterThanOrEqual(requests.length - 8);
  });
});
