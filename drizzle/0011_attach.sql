CREATE TABLE "attach_checkpoints" (
	"name" text PRIMARY KEY NOT NULL,
	"last_follow" text,
	"last_id" text,
	"owner" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "attach_refusals" (
	"name" text NOT NULL,
	"row_id" text NOT NULL,
	"code" text NOT NULL,
	"message" text NOT NULL,
	"refused_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "attach_refusals_name_row_id_pk" PRIMARY KEY("name","row_id")
);
