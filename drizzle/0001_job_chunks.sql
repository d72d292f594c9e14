CREATE TABLE "job_chunks" (
	"job_id" uuid NOT NULL,
	"chunk" integer NOT NULL,
	"payload" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"rows_planned" integer DEFAULT 0 NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"rows_done" integer DEFAULT 0 NOT NULL,
	"rows_failed" integer DEFAULT 0 NOT NULL,
	"counters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"error" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"publications" integer DEFAULT 0 NOT NULL,
	"published_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	CONSTRAINT "job_chunks_job_id_chunk_pk" PRIMARY KEY("job_id","chunk"),
	CONSTRAINT "job_chunks_status_check" CHECK ("job_chunks"."status" in ('pending', 'done', 'failed'))
);
--> statement-breakpoint
ALTER TABLE "job_chunks" ADD CONSTRAINT "job_chunks_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "job_chunks_job_status_idx" ON "job_chunks" USING btree ("job_id","status");