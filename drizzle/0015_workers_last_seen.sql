-- Who is alive, by last heartbeat (issue 8): every claim now asks whether another worker is
-- (a worker alone marks no pair, outbox/claim.ts). Worker rows are never deleted, so the index
-- keeps that question to the recent rows. The workers table is small: the build is quick.
CREATE INDEX "workers_last_seen_idx" ON "workers" USING btree ("last_seen_at");