/**
 * The process-wide dependencies every route shares: validated config, resolved API
 * tokens and the database. Built lazily on the first request (a Vercel function has
 * no start-up hook) or eagerly by the dev server, which installs its own.
 */
import { ensureDevApiToken, ensureDevWebhookSecret } from "./auth/dev-token.js";
import { applyBlobSdkSettings, type Config, getConfig, type QueueConfig, type StorageConfig } from "./config.js";
import { type DatabaseHandle, openDatabase } from "./db/client.js";
import { migrateDatabase } from "./db/migrate.js";
import { AppError } from "./errors.js";
import { createImportKind } from "./imports/kind.js";
import { startReconcileAfterImport } from "./reconcile/after-import.js";
import { createReconcileKind } from "./reconcile/kind.js";
import { RECONCILE_KIND, type ReconcileParams } from "./reconcile/params.js";
import { IMPORT_FINISHED, importFinishedWebhook, queueImportWebhook } from "./imports/webhook.js";
import { type EngineFaults, JobCatalogue, JobEngine } from "./jobs/index.js";
import { createJobStateStore, createMetricsStore, createSyncStateStore, MemoryMetrics, type MetricsStore } from "./kv/index.js";
import type { SyncStateStore } from "./kv/sync-state.js";
import { createSyncKind, type Upstreams } from "./sync/kind.js";
import type { JobStateStore } from "./kv/job-state.js";
import { addLogSink, configureLogging, logger } from "./log/index.js";
import { createLogStoreSink, type LogStoreSink } from "./logs/sink.js";
import { alertSink } from "./alerts/sink.js";
import { type AlertSender, createAlertSender } from "./alerts/sender.js";
import { waitUntil } from "@vercel/functions";
import { insertLogRecords } from "./logs/store.js";
import { recordMetrics } from "./metrics/record.js";
import { createTaskQueue } from "./queue/index.js";
import type { TaskQueue } from "./queue/types.js";
import { createBlobObjectStore } from "./storage/blob.js";
import type { ObjectStore } from "./storage/types.js";
import type { WebhookEvents } from "./webhooks/task.js";

export type QstashSettings = Extract<QueueConfig, { mode: "qstash" }>;
export type BlobSettings = Extract<StorageConfig, { mode: "blob" }>;

export interface Runtime {
  readonly config: Config;
  /** Accepted API tokens: the configured ones, or outside production the generated dev token. */
  readonly apiTokens: readonly string[];
  /** Where the generated dev token is stored, when one is in use. */
  readonly devTokenFile: string | null;
  /** The job kinds this runtime's engine runs. */
  readonly jobKinds: JobCatalogue;
  /** The webhook events this runtime sends (the `webhook` task builds each one's body). */
  readonly webhookEvents: WebhookEvents;
  database(): Promise<DatabaseHandle>;
  /** Chunk leases, counters and flags: Upstash Redis, or in memory when embedded. */
  jobStore(): JobStateStore;
  /** Counters and histograms shared by every process (lib/metrics): Upstash Redis, or in memory when embedded. */
  metrics(): MetricsStore;
  /** The searchable-log sink (null when DROPFLOW_LOG_STORE=off). */
  logStore(): LogStoreSink | null;
  /** Alerts out (ALERT_WEBHOOK_URL), rate limited across processes; null when not configured. */
  alerts(): AlertSender | null;
  /** Writes the buffered log records now (the route wrapper keeps a function alive for it). */
  flushLogs(): Promise<void>;
  /** The sync's shared state (request pacing, SAP sessions, run statistics): Upstash Redis, or in memory when embedded. */
  syncStore(): SyncStateStore;
  /** The eMAG accounts and SAP connection the sync reads: configured, or attached simulators outside production. */
  upstreams(): Upstreams;
  /** Outside production: the dev server points the sources that are not configured at its simulators. */
  attachUpstreams(upstreams: Partial<Upstreams>): void;
  /** Task messages through QStash (or the dev server's stand-in). */
  taskQueue(): TaskQueue;
  /** False until a queue is configured or attached (embedded mode outside the dev server). */
  hasQueue(): boolean;
  engine(): Promise<JobEngine>;
  /** Embedded mode: the dev server points the queue at its in-process stand-in once it listens. */
  attachQueue(settings: QstashSettings, publicBaseUrl: string): void;
  /** Uploaded files: Vercel Blob (or the dev server's stand-in), private access. */
  objectStore(): ObjectStore;
  /** False until storage is configured or attached (embedded mode outside the dev server). */
  hasObjectStore(): boolean;
  /** Embedded mode: the dev server points storage at its in-process Blob stand-in. */
  attachObjectStore(settings: BlobSettings): void;
  /** The storage's Blob settings (client uploads need the read-write token). */
  blobSettings(): BlobSettings;
  /**
   * This deployment's public URL: PUBLIC_BASE_URL, or the dev server's own address
   * once it listens. Webhooks from Blob and QStash are addressed to it.
   */
  publicBaseUrl(): string;
  /** The key of webhook signatures: DROPFLOW_WEBHOOK_SECRET, or outside production a generated one. */
  webhookSecret(): string;
  /** Test and benchmark fault injection. */
  setFaults(faults: EngineFaults | undefined): void;
  close(): Promise<void>;
}

const log = logger("runtime");

export function createRuntime(config: Config): Runtime {
  configureLogging(config.log);
  const tokens = apiTokensOf(config);
  const database = databaseOpener(config);
  let store: JobStateStore | undefined;
  // Embedded: the memory job state store writes chunk metrics into the same twin the scrape reads.
  const memoryMetrics = new MemoryMetrics();
  const jobStore = () => (store ??= createJobStateStore(config.kv, { metrics: memoryMetrics }));
  let metricsStore: MetricsStore | undefined;
  const metrics = () => (metricsStore ??= createMetricsStore(config.kv, memoryMetrics));
  const logStore = config.logStore.enabled
    ? createLogStoreSink({
        writeBatch: async (records) => insertLogRecords((await database.open()).db, records),
        capacity: config.logStore.capacity,
        onDropped: (count) => recordMetrics(metrics(), [{ metric: "logRecordsDropped", labels: {}, value: count }]),
        // Not through the logger: a failing log store must not feed itself.
        reportFailure: (message) => process.stderr.write(`${message}\n`),
      })
    : null;
  const removeLogSink = logStore ? addLogSink(logStore) : () => undefined;

  let syncState: SyncStateStore | undefined;
  const syncStore = () => (syncState ??= createSyncStateStore(config.kv));
  let upstreams: Upstreams = { emag: config.sync.emag ?? [], sap: config.sync.sap };
  const queue = taskQueueHolder(config);
  const alerts = config.alerts.webhookUrl
    ? createAlertSender({
        url: config.alerts.webhookUrl,
        windowMs: config.alerts.windowMs,
        store: syncStore(),
        reportFailure: (message) => process.stderr.write(`${message}\n`),
      })
    : null;
  const removeAlertSink = alerts
    ? addLogSink(alertSink(alerts, { publicBaseUrl: () => config.publicBaseUrl ?? queue.publicBaseUrl() ?? null, track: (pending) => waitUntil(pending) }))
    : () => undefined;
  const objects = objectStoreHolder(config);
  const webhookSecret = webhookSecretOf(config);

  // The job kinds this runtime serves (the dev server adds the test kinds when asked).
  const jobKinds = new JobCatalogue([
    createImportKind({
      objects: objects.get,
      chunkRows: () => config.jobs.chunkRows,
      workbookLimits: () => config.jobs.workbookLimits,
      onFinished: (job, log) => queueImportWebhook(queue.get, job, log),
      reconcileAfter: async ({ job, db, counters, log: jobLog }) => {
        const createRun = async (params: ReconcileParams, correlationId: string) =>
          (await (await getEngine()).createJob(RECONCILE_KIND, params, correlationId)).id;
        const runId = await startReconcileAfterImport({ db, createRun }, job, counters);
        if (runId) jobLog.info("reconcile started after import", { event: "reconcile_after_import", job_id: job.id, reconcile_job_id: runId });
      },
    }),
    createReconcileKind({ chunkInvoices: () => config.jobs.reconcileChunkInvoices }),
    createSyncKind({
      database: async () => (await database.open()).db,
      store: syncStore,
      metrics: () => metrics(),
      config: config.sync,
      upstreams: () => upstreams,
    }),
  ]);
  const webhookEvents: WebhookEvents = new Map([[IMPORT_FINISHED, importFinishedWebhook]]);

  let faults: EngineFaults | undefined;
  let engine: JobEngine | undefined;
  const getEngine = async () => {
    const { db } = await database.open();
    engine ??= new JobEngine({
      db,
      kinds: jobKinds,
      store: jobStore(),
      queue: queue.get(),
      config: config.jobs,
      metrics: metrics(),
      faults: { afterCommit: (jobId, chunk, kind) => faults?.afterCommit?.(jobId, chunk, kind) },
    });
    return engine;
  };

  return {
    config,
    apiTokens: tokens.apiTokens,
    devTokenFile: tokens.devTokenFile,
    jobKinds,
    webhookEvents,
    database: database.open,
    jobStore,
    metrics,
    logStore: () => logStore,
    alerts: () => alerts,
    flushLogs: async () => {
      await logStore?.flush();
    },
    syncStore,
    upstreams: () => upstreams,
    attachUpstreams(attached) {
      if (config.production) throw new Error("production syncs only the configured upstreams");
      upstreams = {
        emag: config.sync.emag ?? attached.emag ?? upstreams.emag,
        sap: config.sync.sap ?? attached.sap ?? upstreams.sap,
      };
    },
    taskQueue: queue.get,
    hasQueue: queue.configured,
    engine: getEngine,
    attachQueue(settings, publicBaseUrl) {
      queue.attach(settings, publicBaseUrl);
      engine = undefined;
    },
    objectStore: objects.get,
    hasObjectStore: objects.configured,
    blobSettings: objects.settings,
    publicBaseUrl() {
      const url = config.publicBaseUrl ?? queue.publicBaseUrl();
      if (!url) {
        throw new AppError("misconfigured", "No public URL: set PUBLIC_BASE_URL, or run the dev server (it knows its own).");
      }
      return url.replace(/\/+$/, "");
    },
    webhookSecret,
    attachObjectStore: objects.attach,
    setFaults(next) {
      faults = next;
    },
    async close() {
      // The last records reach the store before the database closes.
      await logStore?.flush();
      removeLogSink();
      removeAlertSink();
      await database.close();
      await store?.close();
      store = undefined;
      syncState = undefined;
      objects.release();
    },
  };
}

/** The configured API tokens, or outside production the generated dev token. */
function apiTokensOf(config: Config): { apiTokens: readonly string[]; devTokenFile: string | null } {
  if (config.apiTokens.length > 0 || config.production) return { apiTokens: config.apiTokens, devTokenFile: null };
  const dev = ensureDevApiToken(config.dataDir);
  return { apiTokens: [dev.token], devTokenFile: dev.file };
}

/** The database, opened on first use (and migrated when embedded). */
function databaseOpener(config: Config): { open(): Promise<DatabaseHandle>; close(): Promise<void> } {
  let opening: Promise<DatabaseHandle> | undefined;
  return {
    open() {
      opening ??= (async () => {
        const handle = await openDatabase(config.database, {
          maxConnections: config.onVercel ? 3 : 10,
          attachToVercel: config.onVercel,
        });
        // The embedded database migrates itself; shared ones migrate in a deploy step.
        if (handle.driver === "pglite") {
          const result = await migrateDatabase(handle);
          if (result.applied > 0) log.info("migrated embedded database", { applied: result.applied });
        }
        return handle;
      })();
      // A failed open (the data directory is locked, Postgres is down) is reported to
      // the caller; forgetting it here lets the next request try again.
      opening.catch(() => {
        opening = undefined;
      });
      return opening;
    },
    async close() {
      const pending = opening;
      opening = undefined;
      // A database that never opened has nothing to close; its error went to its caller.
      if (pending) await (await pending.catch(() => null))?.close();
    },
  };
}

/** The task queue: configured, or attached by the dev server once it listens. */
function taskQueueHolder(config: Config) {
  let settings: { settings: QstashSettings; publicBaseUrl: string } | null =
    config.queue.mode === "qstash" && config.publicBaseUrl
      ? { settings: config.queue, publicBaseUrl: config.publicBaseUrl }
      : null;
  let queue: TaskQueue | undefined;
  return {
    get(): TaskQueue {
      if (!settings) {
        throw new AppError(
          "misconfigured",
          "No task queue: set the QStash variables and PUBLIC_BASE_URL, or run the dev server (it embeds one).",
        );
      }
      queue ??= createTaskQueue(settings.settings, settings.publicBaseUrl);
      return queue;
    },
    configured: () => settings !== null,
    publicBaseUrl: () => settings?.publicBaseUrl,
    attach(next: QstashSettings, publicBaseUrl: string) {
      settings = { settings: next, publicBaseUrl };
      queue = undefined;
    },
  };
}

/** Object storage: configured, or attached by the dev server (its Blob stand-in). */
function objectStoreHolder(config: Config) {
  let blobSettings: BlobSettings | null = config.storage.mode === "blob" ? config.storage : null;
  let objects: { store: ObjectStore; release: () => void } | undefined;
  const settings = (): BlobSettings => {
    if (!blobSettings) {
      throw new AppError(
        "misconfigured",
        "No object storage: set BLOB_READ_WRITE_TOKEN, or run the dev server (it embeds a Blob stand-in).",
      );
    }
    return blobSettings;
  };
  const release = () => {
    objects?.release();
    objects = undefined;
  };
  return {
    settings,
    configured: () => blobSettings !== null,
    get(): ObjectStore {
      if (!objects) {
        const { token, apiUrl } = settings();
        // The SDK takes its API URL from the environment; lib/config.ts sets it (and
        // throws if this process already talks to another Blob API).
        const releaseSdk = applyBlobSdkSettings(apiUrl);
        objects = { store: createBlobObjectStore({ token, apiUrl }), release: releaseSdk };
      }
      return objects.store;
    },
    attach(next: BlobSettings) {
      release();
      blobSettings = next;
    },
    release,
  };
}

/** DROPFLOW_WEBHOOK_SECRET, or outside production one generated on first use (most processes never send a webhook). */
function webhookSecretOf(config: Config): () => string {
  let secret = config.webhookSecret;
  return () => {
    if (secret === null && config.production) {
      throw new AppError("misconfigured", "No webhook secret: set DROPFLOW_WEBHOOK_SECRET.");
    }
    secret ??= ensureDevWebhookSecret(config.dataDir).token;
    return secret;
  };
}

let current: Runtime | undefined;

/** The process's runtime, created from the environment on first use. */
export function getRuntime(): Runtime {
  current ??= createRuntime(getConfig());
  return current;
}

/** Installs a runtime built elsewhere (the dev server, tests). Returns the previous one. */
export function installRuntime(runtime: Runtime | undefined): Runtime | undefined {
  const previous = current;
  current = runtime;
  return previous;
}
