ALTER TABLE "reconcile_outcomes" ADD COLUMN "gross_sales" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "reconcile_outcomes" ADD COLUMN "admin_fee" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "reconcile_outcomes" ADD COLUMN "service_fee" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "reconcile_outcomes" ADD COLUMN "ams_commission" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "reconcile_outcomes" ADD COLUMN "program_fee" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "reconcile_outcomes" ADD COLUMN "campaign_fee" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "reconcile_outcomes" ADD COLUMN "seller_voucher" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "reconcile_outcomes" ADD COLUMN "net_payout" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "reconcile_outcomes" ADD COLUMN "refunds" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "reconcile_outcomes" ADD COLUMN "supplier_cost" bigint DEFAULT 0 NOT NULL;