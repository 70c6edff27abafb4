import { type SQL, sql } from "drizzle-orm";

/**
 * `e.status` is 'pending', for the statements that write a batch of events BY ID (mark-sent,
 * settle, the heartbeat, release), as an expression that no index matches: neither
 * usage_events_customer_idx (customer_key, status) nor the partial indexes whose predicate
 * starts with status = 'pending' (the leased rows', the due rows'). The planner then finds the
 * rows by their ids, whatever its statistics say, and they can say anything: an outbox analyzed
 * while empty, or not since it grew (PGlite runs no autovacuum, nor does a server with it off),
 * makes "status = 'pending'" look rare, and a settle of 100 events read every pending row
 * through the status index (~5 ms at 10,000 pending; test/outbox/by-id-plans.test.ts). The
 * leased rows' index fills with dead entries between vacuums (every claim and settle moves a
 * row in or out of it), and a read of it visits them all.
 */
export const stillPending: SQL = sql`e.status || '' = 'pending'`;
