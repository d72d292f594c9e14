DROP INDEX "reconcile_results_job_outcome_idx";--> statement-breakpoint
CREATE INDEX "purchases_store_invoice_idx" ON "purchases" USING btree ("store_id","invoice");--> statement-breakpoint
CREATE INDEX "reconcile_results_job_outcome_idx" ON "reconcile_results" USING btree ("job_id","outcome","store_id","invoice");