-- Reported events by time, for the dashboard's throughput (ops/throughput.ts). BRIN: a few pages
-- for millions of rows. autosummarize: each filled page range is summarized by autovacuum, so a
-- read of the last hour visits that hour's ranges and the unsummarized tail, not the table.
CREATE INDEX "usage_events_reported_brin" ON "usage_events" USING brin ("reported_at") WITH (autosummarize = on) WHERE "usage_events"."status" = 'reported';
