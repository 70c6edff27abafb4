CREATE TABLE "async_rejections" (
	"identifier" text PRIMARY KEY NOT NULL,
	"code" text NOT NULL,
	"message" text NOT NULL,
	"stripe_event_id" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "workers" (
	"id" text PRIMARY KEY NOT NULL,
	"host" text NOT NULL,
	"pid" integer NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"in_flight" integer DEFAULT 0 NOT NULL,
	"stopped_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "open_claims" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "first_sent_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "key_generation" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- claims was packed (outcomes * 1000 + open claims): unpack it into two plain counters. The total
-- stays at least as large as any earlier guard value's order, and only grows from here.
UPDATE "usage_events" SET "open_claims" = "claims" % 1000, "claims" = "claims" / 1000 + "claims" % 1000 WHERE "claims" <> 0;--> statement-breakpoint
-- Stripe may hold whatever was ever sent: the earliest send known (an attempt row's or the first
-- ambiguous answer's time) is where the dedup window of existing events starts.
UPDATE "usage_events" SET "first_sent_at" = LEAST("first_attempt_at", "first_ambiguous_at") WHERE "first_attempt_at" IS NOT NULL OR "first_ambiguous_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "usage_events_suspect_idx" ON "usage_events" USING btree ("next_attempt_at") WHERE "usage_events"."status" = 'pending' and "usage_events"."open_claims" >= 2;