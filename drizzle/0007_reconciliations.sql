CREATE TABLE "reconciliations" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "reconciliations_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"range_start" timestamp with time zone NOT NULL,
	"range_end" timestamp with time zone NOT NULL,
	"ran_by" text NOT NULL,
	"groups" integer DEFAULT 0 NOT NULL,
	"drift_groups" integer DEFAULT 0 NOT NULL,
	"settling_groups" integer DEFAULT 0 NOT NULL,
	"meterline_total" bigint DEFAULT 0 NOT NULL,
	"stripe_total" bigint DEFAULT 0 NOT NULL,
	"drift" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"error" text
);
