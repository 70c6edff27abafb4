-- The drift total kept with each reconciliation: the metrics' queue snapshot read it on every
-- scrape of every process by walking the latest run's differences (any number, each with its
-- events). Runs stored before this migration get theirs summed once, here.
ALTER TABLE "reconciliations" ADD COLUMN "drift_total" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE "reconciliations" SET "drift_total" = (
  SELECT coalesce(sum(abs((d ->> 'difference')::bigint)), 0) FROM jsonb_array_elements("drift") d
) WHERE jsonb_array_length("drift") > 0;
