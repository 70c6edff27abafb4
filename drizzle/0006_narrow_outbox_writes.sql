-- Fewer and narrower writes per event (issue 8). A claim and a settle are non-HOT updates: each
-- adds an entry to every index whose predicate the new row version satisfies, one WAL record each.
-- So: no index over every row unless a query needs every row, leased rows in one index, not two,
-- and one index on the attempt table.
--
-- The due index leaves leased rows out: a claimed version adds no entry to it (the claim filters
-- on lease_owner is null; an expired lease is the rescue's, through usage_events_leased_idx).
DROP INDEX "usage_events_due_idx";--> statement-breakpoint
CREATE INDEX "usage_events_due_idx" ON "usage_events" USING btree ("next_attempt_at") WHERE "usage_events"."status" = 'pending' and "usage_events"."lease_owner" is null;--> statement-breakpoint
-- Leased events: one index (by customer × meter) for both the claim's leased-pair check and the
-- rescue, which reads it whole (only what is in flight is in it). No index names lease_expires_at
-- any more, so a heartbeat renewing a lease can be a HOT update.
CREATE INDEX "usage_events_leased_idx" ON "usage_events" USING btree ("customer_key","event_name") WHERE "usage_events"."status" = 'pending' and "usage_events"."lease_owner" is not null;--> statement-breakpoint
DROP INDEX "usage_events_lease_idx";--> statement-breakpoint
DROP INDEX "usage_events_leased_pair_idx";--> statement-breakpoint
-- Dead letters by code: only failed rows are in it (was: every row, by status and code).
CREATE INDEX "usage_events_dead_letter_idx" ON "usage_events" USING btree ("last_error_code","failed_at") WHERE "usage_events"."status" = 'failed';--> statement-breakpoint
DROP INDEX "usage_events_status_code_idx";--> statement-breakpoint
-- Attempts: one index, the key (event_id, id), which is what trace reads.
ALTER TABLE "usage_event_attempts" DROP CONSTRAINT "usage_event_attempts_pkey";--> statement-breakpoint
DROP INDEX "usage_event_attempts_event_idx";--> statement-breakpoint
ALTER TABLE "usage_event_attempts" ADD CONSTRAINT "usage_event_attempts_pkey" PRIMARY KEY("event_id","id");--> statement-breakpoint
-- Hand-written (drizzle cannot express storage parameters): half of each page free, so that a
-- claim's new row versions stay on their page and the updates that change no indexed column
-- (mark-sent's first_sent_at, a heartbeat's lease_expires_at) are HOT: one WAL record, no index
-- entry. Applies to pages written from now on; rows already stored keep their pages.
ALTER TABLE "usage_events" SET (fillfactor = 50);
