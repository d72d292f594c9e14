/**
 * The Postgres schema: the job engine's tables (docs/job-engine.md), the imported
 * data, reconcile and catalogue. drizzle-kit generates the SQL migrations in drizzle/
 * from this file: change it, then `npm run db:generate`.
 *
 * Money from the marketplaces is whole rupiah in bigint; eMAG and SAP prices are
 * numeric(14,4) with their currency. SQL must run on PostgreSQL 15 (no 17+ syntax).
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  date,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

const money = (name: string) => bigint(name, { mode: "number" });
const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp("updated_at", { withTimezone: true }).notNull().defaultNow();

export const JOB_STATUSES = [
  "queued",
  "planning",
  "running",
  "completed",
  "completed_with_errors",
  "completed_with_gaps",
  "failed",
  "cancelled",
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

const inList = (values: readonly string[]) => sql.raw(values.map((value) => `'${value}'`).join(", "));

export const stores = pgTable(
  "stores",
  {
    id: integer("id").primaryKey().generatedAlwaysAsIdentity(),
    name: text("name").notNull(),
    channel: text("channel").notNull(),
    marketplaceUsernames: text("marketplace_usernames").array().notNull().default(sql`'{}'::text[]`),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("stores_name_lower_key").on(sql`lower(${t.name})`)],
);

export const jobs = pgTable(
  "jobs",
  {
    id: uuid("id").primaryKey(),
    /** Monotonic creation order; part of an import's source rank ("a later import wins"). */
    seq: bigint("seq", { mode: "number" }).notNull().generatedAlwaysAsIdentity(),
    kind: text("kind").notNull(),
    status: text("status").$type<JobStatus>().notNull().default("queued"),
    params: jsonb("params").notNull().default({}),
    totals: jsonb("totals").notNull().default({}),
    counters: jsonb("counters").notNull().default({}),
    lastError: text("last_error"),
    correlationId: text("correlation_id"),
    createdAt: createdAt(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    heartbeatAt: timestamp("heartbeat_at", { withTimezone: true }),
  },
  (t) => [
    check("jobs_status_check", sql`${t.status} in (${inList(JOB_STATUSES)})`),
    uniqueIndex("jobs_seq_key").on(t.seq),
    index("jobs_kind_status_created_idx").on(t.kind, t.status, t.createdAt.desc(), t.id.desc()),
    index("jobs_created_idx").on(t.createdAt.desc(), t.id.desc()),
    index("jobs_active_heartbeat_idx").on(t.heartbeatAt).where(sql`${t.status} in ('queued', 'planning', 'running')`),
  ],
);

export const CHUNK_STATUSES = ["pending", "done", "failed", "cancelled"] as const;
export type ChunkStatus = (typeof CHUNK_STATUSES)[number];

/**
 * A job's chunk plan and each chunk's outcome. The outcome is written in the same
 * transaction as the chunk's data, so this table alone says what is done and what
 * it counted; the Redis state is rebuilt from it when lost.
 */
export const jobChunks = pgTable(
  "job_chunks",
  {
    jobId: uuid("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    chunk: integer("chunk").notNull(),
    /** What the chunk covers (file, byte range, first line, key range, page): small, never rows. */
    payload: jsonb("payload").notNull().default({}),
    /** Rows the plan expects in this chunk (the job's row total is their sum). */
    rowsPlanned: integer("rows_planned").notNull().default(0),
    status: text("status").$type<ChunkStatus>().notNull().default("pending"),
    rowsDone: integer("rows_done").notNull().default(0),
    rowsFailed: integer("rows_failed").notNull().default(0),
    counters: jsonb("counters").$type<Record<string, number>>().notNull().default({}),
    /** The chunk's counts by the key they belong to (an import's file id); see ChunkWork.countsByKey. */
    countsByKey: jsonb("counts_by_key").$type<Record<string, Record<string, number>>>().notNull().default({}),
    error: text("error"),
    /** Deliveries that reached a worker (claims). */
    attempts: integer("attempts").notNull().default(0),
    /** Times the chunk answered "throttled, try again later" (re-published with a delay; not a failure). */
    throttles: integer("throttles").notNull().default(0),
    /** Times the chunk was published; part of its deduplication id, so a re-publish is a new message. */
    publications: integer("publications").notNull().default(0),
    publishedAt: timestamp("published_at", { withTimezone: true }),
    completedAt: timestamp("completed_at", { withTimezone: true }),
  },
  (t) => [
    primaryKey({ columns: [t.jobId, t.chunk] }),
    index("job_chunks_job_status_idx").on(t.jobId, t.status),
    check("job_chunks_status_check", sql`${t.status} in (${inList(CHUNK_STATUSES)})`),
  ],
);

export const importFiles = pgTable(
  "import_files",
  {
    id: uuid("id").primaryKey(),
    jobId: uuid("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    /** The file's position in the import request; part of the source rank. */
    position: integer("position").notNull(),
    /** `purchases` or `settlements`. */
    fileType: text("file_type").notNull(),
    name: text("name").notNull(),
    objectKey: text("object_key").notNull(),
    sha256: text("sha256"),
    size: bigint("size", { mode: "number" }).notNull(),
    status: text("status").notNull().default("queued"),
    errorCode: text("error_code"),
    errorMessage: text("error_message"),
    counts: jsonb("counts").notNull().default({}),
    /** The uploaded object was deleted (retention, or DELETE /api/imports/:id/files): it held buyers' details. */
    objectDeletedAt: timestamp("object_deleted_at", { withTimezone: true }),
    /** A workbook: the sheet imported (chosen by its header, or named with `sheet`). */
    sheet: text("sheet"),
    /** A workbook: the CSV the planner converted its sheet to, the object the chunks read (deleted with the upload). */
    convertedKey: text("converted_key"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("import_files_file_type_check", sql`${t.fileType} in ('purchases', 'settlements')`),
    uniqueIndex("import_files_job_position_key").on(t.jobId, t.position),
  ],
);

export const importRowErrors = pgTable(
  "import_row_errors",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    jobId: uuid("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    fileId: uuid("file_id")
      .notNull()
      .references(() => importFiles.id, { onDelete: "cascade" }),
    line: integer("line").notNull(),
    column: text("column"),
    code: text("code").notNull(),
    message: text("message").notNull(),
    raw: text("raw"),
    /** A workbook's row error: the sheet, and the cell as Excel refers to it (`Income!H57`; `Income!57:57` for the whole row). */
    sheet: text("sheet"),
    cell: text("cell"),
  },
  (t) => [
    index("import_row_errors_job_idx").on(t.jobId, t.id),
    index("import_row_errors_job_code_idx").on(t.jobId, t.code, t.id),
    index("import_row_errors_file_line_idx").on(t.fileId, t.line),
  ],
);

/**
 * A dry run's row outcomes (lib/imports/file-status.ts): a dry run rolls each chunk's
 * writes back, so no chunk sees another's version of a row; each records how every
 * distinct row it held would count, and the import's counts are taken at its end from
 * the highest-ranked version of each row, as a real run counts them.
 */
export const importDryRunRows = pgTable(
  "import_dry_run_rows",
  {
    jobId: uuid("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    /** `orders` or `settlements`. */
    rowType: text("row_type").notNull(),
    /** The order code; a settlement's `<store id>:<order number>`. */
    key: text("key").notNull(),
    rankFile: integer("rank_file").notNull(),
    rankLine: integer("rank_line").notNull(),
    /** `inserted`, `updated` or `unchanged`. */
    outcome: text("outcome").notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.rowType, t.key, t.rankFile, t.rankLine] })],
);

export const purchases = pgTable(
  "purchases",
  {
    orderCode: text("order_code").primaryKey(),
    transactionCode: text("transaction_code"),
    storeId: integer("store_id")
      .notNull()
      .references(() => stores.id),
    channel: text("channel").notNull(),
    invoice: text("invoice").notNull(),
    orderedAt: timestamp("ordered_at", { withTimezone: true }).notNull(),
    status: text("status").notNull(),
    otherFee: money("other_fee").notNull().default(0),
    partnerFee: money("partner_fee").notNull().default(0),
    orderTotal: money("order_total").notNull().default(0),
    createdBy: text("created_by"),
    warehouse: text("warehouse"),
    courier: text("courier"),
    cashless: boolean("cashless"),
    waybill: text("waybill"),
    shippedAt: timestamp("shipped_at", { withTimezone: true }),
    province: text("province"),
    city: text("city"),
    contentHash: text("content_hash").notNull(),
    /** Source rank (job seq, file position, line): an upsert replaces only a lower rank. */
    rankJob: bigint("rank_job", { mode: "number" }).notNull(),
    rankFile: integer("rank_file").notNull(),
    rankLine: integer("rank_line").notNull(),
    firstJobId: uuid("first_job_id").notNull(),
    lastJobId: uuid("last_job_id").notNull(),
    /**
     * The content hash the order had before `last_job_id` first wrote it; null when that
     * import inserted it. An import counts each order once however many of its chunks
     * hold it: a later chunk compares with this, not with its own earlier write.
     */
    jobPriorHash: text("job_prior_hash"),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("purchases_invoice_idx").on(t.invoice),
    // Reconcile's keyset ranges walk invoices in (store, invoice) order.
    index("purchases_store_invoice_idx").on(t.storeId, t.invoice),
    index("purchases_store_ordered_idx").on(t.storeId, t.orderedAt),
  ],
);

export const purchaseLines = pgTable(
  "purchase_lines",
  {
    orderCode: text("order_code")
      .notNull()
      .references(() => purchases.orderCode, { onDelete: "cascade" }),
    lineNo: integer("line_no").notNull(),
    sku: text("sku").notNull(),
    productName: text("product_name"),
    unitCost: money("unit_cost").notNull(),
    qty: integer("qty").notNull(),
    lineCost: money("line_cost").notNull(),
    unitPrice: money("unit_price").notNull(),
    linePrice: money("line_price").notNull(),
    lineMargin: money("line_margin").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orderCode, t.lineNo] }), check("purchase_lines_qty_check", sql`${t.qty} > 0`)],
);

export const settlements = pgTable(
  "settlements",
  {
    storeId: integer("store_id")
      .notNull()
      .references(() => stores.id),
    orderSn: text("order_sn").notNull(),
    orderedOn: date("ordered_on"),
    payoutDate: date("payout_date"),
    grossProductPrice: money("gross_product_price").notNull().default(0),
    productDiscount: money("product_discount").notNull().default(0),
    buyerRefund: money("buyer_refund").notNull().default(0),
    sellerVoucher: money("seller_voucher").notNull().default(0),
    amsCommission: money("ams_commission").notNull().default(0),
    adminFee: money("admin_fee").notNull().default(0),
    serviceFee: money("service_fee").notNull().default(0),
    programFee: money("program_fee").notNull().default(0),
    campaignFee: money("campaign_fee").notNull().default(0),
    buyerShippingFee: money("buyer_shipping_fee").notNull().default(0),
    shopeeShippingSubsidy: money("shopee_shipping_subsidy").notNull().default(0),
    shippingForwarded: money("shipping_forwarded").notNull().default(0),
    sellerShippingPromo: money("seller_shipping_promo").notNull().default(0),
    netPayout: money("net_payout").notNull(),
    shippingService: text("shipping_service"),
    courierName: text("courier_name"),
    contentHash: text("content_hash").notNull(),
    /**
     * Source rank (job seq, file position, line), as for purchases: an upsert replaces
     * only a lower rank. A rank of (0, 0, 0), what migration 0004 gave the rows it found,
     * loses to any import.
     */
    rankJob: bigint("rank_job", { mode: "number" }).notNull(),
    rankFile: integer("rank_file").notNull(),
    rankLine: integer("rank_line").notNull(),
    firstJobId: uuid("first_job_id").notNull(),
    lastJobId: uuid("last_job_id").notNull(),
    /** As purchases.job_prior_hash: the content before `last_job_id` first wrote the row. */
    jobPriorHash: text("job_prior_hash"),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ columns: [t.storeId, t.orderSn] }),
    index("settlements_store_ordered_idx").on(t.storeId, t.orderedOn),
  ],
);

export const RECONCILE_OUTCOMES = [
  "orphan_settlement",
  "returned",
  "cancelled",
  "matched",
  "amount_mismatch",
  "missing_settlement",
  "in_progress",
] as const;

const reconcileColumns = {
  storeId: integer("store_id")
    .notNull()
    .references(() => stores.id),
  invoice: text("invoice").notNull(),
  outcome: text("outcome").notNull(),
  expected: money("expected"),
  actual: money("actual"),
  diff: money("diff"),
  splitInvoice: boolean("split_invoice").notNull().default(false),
  orderDate: date("order_date"),
};

export const reconcileResults = pgTable(
  "reconcile_results",
  {
    jobId: uuid("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    ...reconcileColumns,
    reason: text("reason"),
  },
  (t) => [
    primaryKey({ columns: [t.jobId, t.storeId, t.invoice] }),
    // A run's results of one outcome, paged in key order.
    index("reconcile_results_job_outcome_idx").on(t.jobId, t.outcome, t.storeId, t.invoice),
    check("reconcile_results_outcome_check", sql`${t.outcome} in (${inList(RECONCILE_OUTCOMES)})`),
  ],
);

export const reconcileOutcomes = pgTable(
  "reconcile_outcomes",
  {
    ...reconcileColumns,
    // The invoice's money as its run read it, what the margin report sums (lib/reports/margin.ts):
    // the settlement's amounts (0 without one) and the supplier's cost of its live purchases.
    grossSales: money("gross_sales").notNull().default(0),
    adminFee: money("admin_fee").notNull().default(0),
    serviceFee: money("service_fee").notNull().default(0),
    amsCommission: money("ams_commission").notNull().default(0),
    programFee: money("program_fee").notNull().default(0),
    campaignFee: money("campaign_fee").notNull().default(0),
    sellerVoucher: money("seller_voucher").notNull().default(0),
    netPayout: money("net_payout").notNull().default(0),
    refunds: money("refunds").notNull().default(0),
    supplierCost: money("supplier_cost").notNull().default(0),
    jobId: uuid("job_id").notNull(),
    decidedAt: timestamp("decided_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.storeId, t.invoice] }),
    index("reconcile_outcomes_store_outcome_idx").on(t.storeId, t.outcome),
    check("reconcile_outcomes_outcome_check", sql`${t.outcome} in (${inList(RECONCILE_OUTCOMES)})`),
  ],
);

export const catalogueItems = pgTable(
  "catalogue_items",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    source: text("source").notNull(),
    account: text("account").notNull(),
    externalId: text("external_id").notNull(),
    sku: text("sku"),
    name: text("name"),
    /** Our stable handle for the item: given once, never changed. */
    handle: text("handle").notNull(),
    price: numeric("price", { precision: 14, scale: 4 }),
    currency: text("currency"),
    stock: integer("stock"),
    status: text("status"),
    contentHash: text("content_hash").notNull(),
    raw: jsonb("raw"),
    firstSeenJob: uuid("first_seen_job"),
    lastSeenJob: uuid("last_seen_job"),
    retiredAt: timestamp("retired_at", { withTimezone: true }),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("catalogue_items_source_account_external_key").on(t.source, t.account, t.externalId),
    uniqueIndex("catalogue_items_handle_key").on(t.handle),
    index("catalogue_items_sku_idx").on(t.sku),
    // The retire sweep and the "unique seen" count of a run read items by the run that last saw them.
    index("catalogue_items_last_seen_idx").on(t.source, t.account, t.lastSeenJob),
    check("catalogue_items_source_check", sql`${t.source} in ('emag', 'sap')`),
  ],
);

export const SYNC_SOURCES = ["emag", "sap"] as const;
export type SyncSource = (typeof SYNC_SOURCES)[number];
export const SYNC_MODES = ["full", "incremental"] as const;
export type SyncMode = (typeof SYNC_MODES)[number];

/**
 * What a sync run (a `sync` job) knows beyond the engine's counters: the upstream's
 * count at its start and end, the unique items it saw, what it retired, and why it
 * ended with gaps or failed. The partial unique index is the "one run per source and
 * account at a time" rule: a second start collides with the running one's row.
 */
export const syncRuns = pgTable(
  "sync_runs",
  {
    jobId: uuid("job_id").primaryKey(),
    source: text("source").notNull(),
    account: text("account").notNull(),
    mode: text("mode").notNull(),
    /** Incremental runs: items updated on or after this day (the last complete run's day, less one). */
    since: date("since", { mode: "string" }),
    expectedAtStart: integer("expected_at_start"),
    expectedAtEnd: integer("expected_at_end"),
    seen: integer("seen"),
    retired: integer("retired"),
    /** Why the run could not prove it saw everything (completed_with_gaps). */
    gaps: text("gaps"),
    /** A fatal upstream error (credentials, IP allow-list, locked user): the run fails with it. */
    fatal: text("fatal"),
    /** The latest error the run's start retried on: the reason when it never got a count. */
    startError: text("start_error"),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex("sync_runs_one_active_key").on(t.source, t.account).where(sql`${t.finishedAt} is null`),
    index("sync_runs_source_account_idx").on(t.source, t.account, t.startedAt),
    check("sync_runs_source_check", sql`${t.source} in ('emag', 'sap')`),
    check("sync_runs_mode_check", sql`${t.mode} in ('full', 'incremental')`),
  ],
);

/**
 * Files that reached object storage through POST /api/uploads (a client upload,
 * recorded by Vercel Blob's signed upload-completed callback) or as a part of a
 * multipart POST /api/imports. `key` is the object's key (`imports/<uuid>/<name>`).
 */
export const uploads = pgTable(
  "uploads",
  {
    key: text("key").primaryKey(),
    /** The file's name as the client gave it (the key holds a sanitised copy). */
    name: text("name").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    contentType: text("content_type").notNull(),
    etag: text("etag"),
    /** `client` (Blob client upload) or `form` (a multipart import request). */
    source: text("source").notNull(),
    /**
     * Hex SHA-256 of the object's bytes, as of `etag`: hashed from the request's bytes
     * (`form`), or streamed from storage by the upload-completed callback (`client`;
     * null until that callback has hashed it). POST /api/imports uses it to refuse the
     * same content twice in one import without reading the file again.
     */
    sha256: text("sha256"),
    uploadedAt: timestamp("uploaded_at", { withTimezone: true }).notNull(),
    recordedAt: timestamp("recorded_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check("uploads_source_check", sql`${t.source} in ('client', 'form')`),
    index("uploads_uploaded_idx").on(t.uploadedAt.desc()),
  ],
);

/**
 * Idempotency-Key claims (lib/http/idempotency.ts): one row per API token (its
 * SHA-256, never the token), scope (the route) and key. The insert that creates the
 * row is the claim; the first response is stored on it and replayed for 24 hours. `lock_id` names the request working on a claim that has no response yet.
 */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    tokenHash: text("token_hash").notNull(),
    scope: text("scope").notNull(),
    key: text("key").notNull(),
    /** SHA-256 of the request's canonical form: the same key with another request is a conflict. */
    requestHash: text("request_hash").notNull(),
    lockId: uuid("lock_id").notNull(),
    lockedAt: timestamp("locked_at", { withTimezone: true }).notNull().defaultNow(),
    responseStatus: integer("response_status"),
    responseHeaders: jsonb("response_headers").$type<Record<string, string>>(),
    responseBody: text("response_body"),
    createdAt: createdAt(),
    completedAt: timestamp("completed_at", { withTimezone: true }),
  },
  (t) => [
    primaryKey({ columns: [t.tokenHash, t.scope, t.key] }),
    index("idempotency_keys_created_idx").on(t.createdAt),
  ],
);

/**
 * The searchable logs (GET /api/logs): WARN and above, and every job lifecycle event,
 * written in batches by the log store sink (lib/logs) off the request's path.
 */
export const logRecords = pgTable(
  "log_records",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    time: timestamp("time", { withTimezone: true, precision: 3 }).notNull(),
    level: text("level").notNull(),
    service: text("service").notNull(),
    operation: text("operation"),
    correlationId: text("correlation_id"),
    jobId: text("job_id"),
    event: text("event"),
    msg: text("msg").notNull(),
    /** The rest of the record's fields (already redacted). */
    fields: jsonb("fields").notNull(),
  },
  (t) => [
    index("log_records_correlation_idx").on(t.correlationId, t.time),
    index("log_records_job_idx").on(t.jobId, t.time),
    index("log_records_time_idx").on(t.time),
  ],
);

