CREATE TABLE "catalogue_items" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "catalogue_items_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"source" text NOT NULL,
	"account" text NOT NULL,
	"external_id" text NOT NULL,
	"sku" text,
	"name" text,
	"handle" text NOT NULL,
	"price" numeric(14, 4),
	"currency" text,
	"stock" integer,
	"status" text,
	"content_hash" text NOT NULL,
	"raw" jsonb,
	"first_seen_job" uuid,
	"last_seen_job" uuid,
	"retired_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "catalogue_items_source_check" CHECK ("catalogue_items"."source" in ('emag', 'sap'))
);
--> statement-breakpoint
CREATE TABLE "import_files" (
	"id" uuid PRIMARY KEY NOT NULL,
	"job_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"object_key" text NOT NULL,
	"sha256" text,
	"size" bigint NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"error_code" text,
	"error_message" text,
	"counts" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "import_files_kind_check" CHECK ("import_files"."kind" in ('purchases', 'settlements'))
);
--> statement-breakpoint
CREATE TABLE "import_row_errors" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "import_row_errors_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"job_id" uuid NOT NULL,
	"file_id" uuid NOT NULL,
	"line" integer NOT NULL,
	"column" text,
	"code" text NOT NULL,
	"message" text NOT NULL,
	"raw" text
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "jobs_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"kind" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"totals" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"counters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"last_error" text,
	"correlation_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"heartbeat_at" timestamp with time zone,
	CONSTRAINT "jobs_status_check" CHECK ("jobs"."status" in ('queued', 'planning', 'running', 'completed', 'completed_with_errors', 'completed_with_gaps', 'failed', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "purchase_lines" (
	"order_code" text NOT NULL,
	"line_no" integer NOT NULL,
	"sku" text NOT NULL,
	"product_name" text,
	"unit_cost" bigint NOT NULL,
	"qty" integer NOT NULL,
	"line_cost" bigint NOT NULL,
	"unit_price" bigint NOT NULL,
	"line_price" bigint NOT NULL,
	"line_margin" bigint NOT NULL,
	CONSTRAINT "purchase_lines_order_code_line_no_pk" PRIMARY KEY("order_code","line_no"),
	CONSTRAINT "purchase_lines_qty_check" CHECK ("purchase_lines"."qty" > 0)
);
--> statement-breakpoint
CREATE TABLE "purchases" (
	"order_code" text PRIMARY KEY NOT NULL,
	"transaction_code" text,
	"store_id" integer NOT NULL,
	"channel" text NOT NULL,
	"invoice" text NOT NULL,
	"ordered_at" timestamp with time zone NOT NULL,
	"status" text NOT NULL,
	"other_fee" bigint DEFAULT 0 NOT NULL,
	"partner_fee" bigint DEFAULT 0 NOT NULL,
	"order_total" bigint DEFAULT 0 NOT NULL,
	"created_by" text,
	"warehouse" text,
	"courier" text,
	"cashless" boolean,
	"waybill" text,
	"shipped_at" timestamp with time zone,
	"province" text,
	"city" text,
	"content_hash" text NOT NULL,
	"rank_job" bigint NOT NULL,
	"rank_file" integer NOT NULL,
	"rank_line" integer NOT NULL,
	"first_job_id" uuid NOT NULL,
	"last_job_id" uuid NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "reconcile_outcomes" (
	"store_id" integer NOT NULL,
	"invoice" text NOT NULL,
	"outcome" text NOT NULL,
	"expected" bigint,
	"actual" bigint,
	"diff" bigint,
	"split_invoice" boolean DEFAULT false NOT NULL,
	"order_date" date,
	"job_id" uuid NOT NULL,
	"decided_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "reconcile_outcomes_store_id_invoice_pk" PRIMARY KEY("store_id","invoice"),
	CONSTRAINT "reconcile_outcomes_outcome_check" CHECK ("reconcile_outcomes"."outcome" in ('orphan_settlement', 'returned', 'cancelled', 'matched', 'amount_mismatch', 'missing_settlement', 'in_progress'))
);
--> statement-breakpoint
CREATE TABLE "reconcile_results" (
	"job_id" uuid NOT NULL,
	"store_id" integer NOT NULL,
	"invoice" text NOT NULL,
	"outcome" text NOT NULL,
	"expected" bigint,
	"actual" bigint,
	"diff" bigint,
	"split_invoice" boolean DEFAULT false NOT NULL,
	"order_date" date,
	"reason" text,
	CONSTRAINT "reconcile_results_job_id_store_id_invoice_pk" PRIMARY KEY("job_id","store_id","invoice"),
	CONSTRAINT "reconcile_results_outcome_check" CHECK ("reconcile_results"."outcome" in ('orphan_settlement', 'returned', 'cancelled', 'matched', 'amount_mismatch', 'missing_settlement', 'in_progress'))
);
--> statement-breakpoint
CREATE TABLE "settlements" (
	"store_id" integer NOT NULL,
	"order_sn" text NOT NULL,
	"ordered_on" date,
	"payout_date" date,
	"gross_product_price" bigint DEFAULT 0 NOT NULL,
	"product_discount" bigint DEFAULT 0 NOT NULL,
	"buyer_refund" bigint DEFAULT 0 NOT NULL,
	"seller_voucher" bigint DEFAULT 0 NOT NULL,
	"ams_commission" bigint DEFAULT 0 NOT NULL,
	"admin_fee" bigint DEFAULT 0 NOT NULL,
	"service_fee" bigint DEFAULT 0 NOT NULL,
	"program_fee" bigint DEFAULT 0 NOT NULL,
	"campaign_fee" bigint DEFAULT 0 NOT NULL,
	"buyer_shipping_fee" bigint DEFAULT 0 NOT NULL,
	"shopee_shipping_subsidy" bigint DEFAULT 0 NOT NULL,
	"shipping_forwarded" bigint DEFAULT 0 NOT NULL,
	"seller_shipping_promo" bigint DEFAULT 0 NOT NULL,
	"net_payout" bigint NOT NULL,
	"shipping_service" text,
	"courier_name" text,
	"content_hash" text NOT NULL,
	"first_job_id" uuid NOT NULL,
	"last_job_id" uuid NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "settlements_store_id_order_sn_pk" PRIMARY KEY("store_id","order_sn")
);
--> statement-breakpoint
CREATE TABLE "stores" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "stores_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"channel" text NOT NULL,
	"marketplace_usernames" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "import_files" ADD CONSTRAINT "import_files_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "import_row_errors" ADD CONSTRAINT "import_row_errors_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "import_row_errors" ADD CONSTRAINT "import_row_errors_file_id_import_files_id_fk" FOREIGN KEY ("file_id") REFERENCES "public"."import_files"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchase_lines" ADD CONSTRAINT "purchase_lines_order_code_purchases_order_code_fk" FOREIGN KEY ("order_code") REFERENCES "public"."purchases"("order_code") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reconcile_outcomes" ADD CONSTRAINT "reconcile_outcomes_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reconcile_results" ADD CONSTRAINT "reconcile_results_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reconcile_results" ADD CONSTRAINT "reconcile_results_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "settlements" ADD CONSTRAINT "settlements_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "catalogue_items_source_account_external_key" ON "catalogue_items" USING btree ("source","account","external_id");--> statement-breakpoint
CREATE UNIQUE INDEX "catalogue_items_handle_key" ON "catalogue_items" USING btree ("handle");--> statement-breakpoint
CREATE INDEX "catalogue_items_sku_idx" ON "catalogue_items" USING btree ("sku");--> statement-breakpoint
CREATE UNIQUE INDEX "import_files_job_position_key" ON "import_files" USING btree ("job_id","position");--> statement-breakpoint
CREATE INDEX "import_row_errors_job_idx" ON "import_row_errors" USING btree ("job_id","id");--> statement-breakpoint
CREATE INDEX "import_row_errors_job_code_idx" ON "import_row_errors" USING btree ("job_id","code","id");--> statement-breakpoint
CREATE INDEX "import_row_errors_file_line_idx" ON "import_row_errors" USING btree ("file_id","line");--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_seq_key" ON "jobs" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "jobs_kind_status_created_idx" ON "jobs" USING btree ("kind","status","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "jobs_created_idx" ON "jobs" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "jobs_active_heartbeat_idx" ON "jobs" USING btree ("heartbeat_at") WHERE "jobs"."status" in ('queued', 'planning', 'running');--> statement-breakpoint
CREATE INDEX "purchases_invoice_idx" ON "purchases" USING btree ("invoice");--> statement-breakpoint
CREATE INDEX "purchases_store_ordered_idx" ON "purchases" USING btree ("store_id","ordered_at");--> statement-breakpoint
CREATE INDEX "reconcile_outcomes_store_outcome_idx" ON "reconcile_outcomes" USING btree ("store_id","outcome");--> statement-breakpoint
CREATE INDEX "reconcile_results_job_outcome_idx" ON "reconcile_results" USING btree ("job_id","outcome");--> statement-breakpoint
CREATE INDEX "settlements_store_ordered_idx" ON "settlements" USING btree ("store_id","ordered_on");--> statement-breakpoint
CREATE UNIQUE INDEX "stores_name_lower_key" ON "stores" USING btree (lower("name"));