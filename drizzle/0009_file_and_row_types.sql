ALTER TABLE "import_files" RENAME COLUMN "kind" TO "file_type";--> statement-breakpoint
ALTER TABLE "import_files" RENAME CONSTRAINT "import_files_kind_check" TO "import_files_file_type_check";--> statement-breakpoint
ALTER TABLE "import_dry_run_rows" RENAME COLUMN "kind" TO "row_type";--> statement-breakpoint
ALTER TABLE "import_dry_run_rows" RENAME CONSTRAINT "import_dry_run_rows_job_id_kind_key_rank_file_rank_line_pk" TO "import_dry_run_rows_job_id_row_type_key_rank_file_rank_line_pk";
