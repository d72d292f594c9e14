CREATE TABLE "log_records" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "log_records_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"time" timestamp (3) with time zone NOT NULL,
	"level" text NOT NULL,
	"service" text NOT NULL,
	"operation" text,
	"correlation_id" text,
	"job_id" text,
	"event" text,
	"msg" text NOT NULL,
	"fields" jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX "log_records_correlation_idx" ON "log_records" USING btree ("correlation_id","time");--> statement-breakpoint
CREATE INDEX "log_records_job_idx" ON "log_records" USING btree ("job_id","time");--> statement-breakpoint
CREATE INDEX "log_records_time_idx" ON "log_records" USING btree ("time");