CREATE TABLE "subscription_items" (
	"customer_key" text NOT NULL,
	"event_name" text NOT NULL,
	"subscription_item_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subscription_items_customer_key_event_name_pk" PRIMARY KEY("customer_key","event_name")
);
