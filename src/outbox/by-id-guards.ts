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

/** Batches up to this size are also found by their ids' array (byIds). */
export const BY_IDS_MAX = 64;

/**
 * `e.id` is one of `ids`, for the same statements, beside their join on the batch's rows, for a
 * batch of up to BY_IDS_MAX events. The rows come from jsonb_to_recordset, which the planner
 * takes for 100 whatever the batch holds, so on an outbox of up to ~15,000 events, analyzed or
 * not, reading the whole table looked cheaper than 100 probes of the key: each v1 settle and
 * mark (~20 events) read all 10,000 rows of the bench's outbox, four times what the same
 * statements cost on a larger table (test/outbox/by-id-plans.test.ts). The array tells the
 * planner how few rows there are. Only for small batches: the planner then joins the batch's
 * rows to each event found by a scan of them (it takes the guards on status and lease for
 * selective), n² comparisons, which at 200 events (a stream settle) cost more than the scan of
 * the table they avoid. One text for both: the size test is on the parameter, which a custom
 * plan folds to true or false before planning. One array parameter whatever the batch size
 * (param(): a bare array would become a list, a new statement per size).
 */
export function byIds(ids: readonly string[]): SQL {
  const array = sql`${param(ids)}::text[]`;
  return sql`(cardinality(${array}) > ${sql.raw(String(BY_IDS_MAX))} or e.id = any(${array}))`;
}
