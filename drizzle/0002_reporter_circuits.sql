CREATE TABLE "reporter_circuits" (
	"scope" text PRIMARY KEY NOT NULL,
	"reason" text NOT NULL,
	"opened_by" text NOT NULL,
	"opened_at" timestamp with time zone DEFAULT now() NOT NULL,
	"next_probe_at" timestamp with time zone NOT NULL,
	"probe_owner" text
);
