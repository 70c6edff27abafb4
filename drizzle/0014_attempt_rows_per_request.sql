-- Attempt rows per request (issue 8). A stream request delivers up to 100 events with one
-- answer: its audit row is written once, in usage_event_requests, and each delivered event names
-- it (delivered_by), instead of a row and a key entry per event in usage_event_attempts. Rows
-- written before this migration stay where they are; trace reads both (outbox/attempt-history.ts).
CREATE TABLE "usage_event_requests" (
	"id" bigint PRIMARY KEY NOT NULL,
	"worker" text NOT NULL,
	"outcome" text NOT NULL,
	"http_status" integer,
	"stripe_code" text,
	"request_id" text,
	"message" text,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone DEFAULT now() NOT NULL,
	"events" integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "delivered_by" bigint;