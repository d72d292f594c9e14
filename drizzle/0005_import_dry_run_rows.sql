CREATE TABLE "import_dry_run_rows" (
	"job_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"key" text NOT NULL,
	"rank_file" integer NOT NULL,
	"rank_line" integer NOT NULL,
	"outcome" text NOT NULL,
	CONSTRAINT "import_dry_run_rows_job_id_kind_key_rank_file_rank_line_pk" PRIMARY KEY("job_id","kind","key","rank_file","rank_line")
);
--> statement-breakpoint
ALTER TABLE "import_dry_run_rows" ADD CONSTRAINT "import_dry_run_rows_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;