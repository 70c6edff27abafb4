-- Claims as HOT updates (issue 8). A claim changed lease_owner, which two partial indexes named
-- (usage_events_due_idx, usage_events_leased_idx), and open_claims (usage_events_suspect_idx):
-- every claimed event got a new entry in the primary key, usage_events_customer_idx and the
-- leased index. Now no index names a lease column. pair_owner is lease_owner again for the
-- meters with a per-(customer, meter) rule and null for the stream's: those leased events move
-- from the due index to the leased index, as before; a leased stream event stays in the due
-- index (a claim skips the few in flight at its head) and its claim changes no indexed column.
-- Expired leases are found through one row per claim in usage_event_claims.
CREATE TABLE "usage_event_claims" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "usage_event_claims_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"owner" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"event_ids" text[] NOT NULL
);
--> statement-breakpoint
DROP INDEX "usage_events_suspect_idx";--> statement-breakpoint
DROP INDEX "usage_events_due_idx";--> statement-breakpoint
DROP INDEX "usage_events_leased_idx";--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "pair_owner" text;--> statement-breakpoint
-- Leases taken before this migration: one claim row per owner, due now, so that the rescue
-- finds them if their worker is gone; and pair_owner for those with the per-pair rule.
INSERT INTO "usage_event_claims" ("owner", "expires_at", "event_ids")
SELECT "lease_owner", now(), array_agg("id")
  FROM "usage_events"
 WHERE "status" = 'pending' AND "lease_owner" IS NOT NULL
 GROUP BY "lease_owner";--> statement-breakpoint
UPDATE "usage_events" SET "pair_owner" = "lease_owner"
 WHERE "status" = 'pending' AND "lease_owner" IS NOT NULL
   AND "event_name" NOT IN (SELECT "event_name" FROM "meters" WHERE "delivery_mode" = 'meter_stream');--> statement-breakpoint
CREATE INDEX "usage_events_due_idx" ON "usage_events" USING btree ("next_attempt_at") WHERE "usage_events"."status" = 'pending' and "usage_events"."pair_owner" is null;--> statement-breakpoint
CREATE INDEX "usage_events_leased_idx" ON "usage_events" USING btree ("customer_key","event_name") WHERE "usage_events"."status" = 'pending' and "usage_events"."pair_owner" is not null;
