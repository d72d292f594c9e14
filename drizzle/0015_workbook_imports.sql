ALTER TABLE "import_files" ADD COLUMN "sheet" text;--> statement-breakpoint
ALTER TABLE "import_files" ADD COLUMN "converted_key" text;--> statement-breakpoint
ALTER TABLE "import_row_errors" ADD COLUMN "sheet" text;--> statement-breakpoint
ALTER TABLE "import_row_errors" ADD COLUMN "cell" text;