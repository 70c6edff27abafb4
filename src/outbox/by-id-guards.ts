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

/**
 * The LIMIT of a batch's rows from jsonb_to_recordset, for the same statements: its length. The
 * planner takes a set-returning function for 100 rows whatever it returns; a limit it reads as
 * the row count. Without it, on an outbox of up to ~15,000 events, analyzed or not, reading the
 * whole table and hashing the batch looked cheaper than 100 probes of the primary key: each v1
 * settle and mark (~20 events) read all 10,000 rows of the bench's outbox, ~3 ms of the
 * server's CPU each (test/outbox/by-id-plans.test.ts). Told 20, it probes the key 20 times. A
 * condition on the key (e.id = any(ids)) did the same for small tables but made the planner
 * find the events first and compare each with every row of the batch: n² comparisons, slower
 * than the probes on a larger table.
 */
export function batchSize(n: number): SQL {
  return sql`${n}::int`;
}

/**
 * A batch's (id, claims) pairs as the rows `r` of a statement's FROM (mark-sent, release): one
 * jsonb parameter whatever the batch's size, limited to its length (batchSize) so that the
 * planner probes the key once per row.
 */
export function claimRefRows(events: readonly { id: string; claims: number }[]): SQL {
  const json = JSON.stringify(events.map((e) => ({ id: e.id, claims: e.claims })));
  return sql`(select * from jsonb_to_recordset(${json}::jsonb) as r(id text, claims int)
      limit ${batchSize(events.length)}) as r`;
}
