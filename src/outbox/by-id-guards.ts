import { param, type SQL, sql } from "drizzle-orm";

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

/**
 * `e.id` is one of `ids`, for the same statements, beside their join on the batch's rows: the
 * rows come from jsonb_to_recordset, which the planner takes for 100 rows whatever the batch
 * holds, so on an outbox of up to ~15,000 events, analyzed or not, a hash join reading the whole
 * table looked cheaper than 100 probes of the primary key: each v1 settle and mark (~20 events)
 * read all 10,000 rows of the bench's outbox, ~3 ms of the server's CPU each, four times what
 * the same statements cost on a larger table (test/outbox/by-id-plans.test.ts). An array
 * condition on the key tells the planner how few rows there are. One array parameter, whatever
 * the batch size (param(): a bare array would become a list, a new statement per size).
 */
export function byIds(ids: readonly string[]): SQL {
  return sql`e.id = any(${param(ids)}::text[])`;
}
