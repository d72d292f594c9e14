CREATE TABLE "sync_runs" (
	"job_id" uuid PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"account" text NOT NULL,
	"mode" text NOT NULL,
	"since" date,
	"expected_at_start" integer,
	"expected_at_end" integer,
	"seen" integer,
	"retired" integer,
	"gaps" text,
	"fatal" text,
	"start_error" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "sync_runs_source_check" CHECK ("sync_runs"."source" in ('emag', 'sap')),
	CONSTRAINT "sync_runs_mode_check" CHECK ("sync_runs"."mode" in ('full', 'incremental'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "sync_runs_one_active_key" ON "sync_runs" USING btree ("source","account") WHERE "sync_runs"."finished_at" is null;--> statement-breakpoint
CREATE INDEX "sync_runs_source_account_idx" ON "sync_runs" USING btree ("source","account","started_at");--> statement-breakpoint
CREATE INDEX "catalogue_items_last_seen_idx" ON "catalogue_items" USING btree ("source","account","last_seen_job");