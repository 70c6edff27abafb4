CREATE TABLE "api_keys" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"secret_hash" text NOT NULL,
	"prefix" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "customers" (
	"key" text PRIMARY KEY NOT NULL,
	"stripe_customer_id" text,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "meters" (
	"event_name" text PRIMARY KEY NOT NULL,
	"stripe_meter_id" text,
	"status" text DEFAULT 'active' NOT NULL,
	"delivery_mode" text DEFAULT 'meter_events' NOT NULL,
	"customer_payload_key" text DEFAULT 'stripe_customer_id' NOT NULL,
	"value_payload_key" text DEFAULT 'value' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stripe_events" (
	"id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"payload" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "usage_event_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" text NOT NULL,
	"attempt" integer NOT NULL,
	"worker" text NOT NULL,
	"outcome" text NOT NULL,
	"http_status" integer,
	"stripe_code" text,
	"request_id" text,
	"message" text,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "usage_events" (
	"id" text PRIMARY KEY NOT NULL,
	"customer_key" text NOT NULL,
	"event_name" text NOT NULL,
	"value" bigint NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"claims" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"lease_owner" text,
	"lease_expires_at" timestamp with time zone,
	"first_attempt_at" timestamp with time zone,
	"first_ambiguous_at" timestamp with time zone,
	"last_attempt_at" timestamp with time zone,
	"wait_reason" text,
	"last_error_code" text,
	"last_error_message" text,
	"last_http_status" integer,
	"last_request_id" text,
	"stripe_request_id" text,
	"reported_at" timestamp with time zone,
	"failed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_secret_hash_key" ON "api_keys" USING btree ("secret_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "customers_stripe_customer_id_key" ON "customers" USING btree ("stripe_customer_id") WHERE "customers"."stripe_customer_id" is not null;--> statement-breakpoint
CREATE INDEX "usage_event_attempts_event_idx" ON "usage_event_attempts" USING btree ("event_id","id");--> statement-breakpoint
CREATE INDEX "usage_events_due_idx" ON "usage_events" USING btree ("next_attempt_at") WHERE "usage_events"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "usage_events_status_code_idx" ON "usage_events" USING btree ("status","last_error_code");--> statement-breakpoint
CREATE INDEX "usage_events_customer_idx" ON "usage_events" USING btree ("customer_key","status");