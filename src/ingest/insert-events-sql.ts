import type { EventInput } from "./event-input.ts";

/** What the statement's abort message carries: the batch reused an id with other content. */
export const CONFLICT_MARKER = "conflicting_event:";

/**
 * The opening both ingest statements share: the batch as rows (`input`, from the column arrays
 * $1–$6) and whether every customer ($7) is active and every event name ($8) has a meter (`refs`).
 */
const INPUT_AND_REFS = `with input as (
  select * from unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[], $6::boolean[])
    as e(id, customer_key, event_name, value, occurred_at, time_defaulted)
),
refs as (
  select
    (select count(*) from customers where key = any($7::text[]) and status = 'active')
      = cardinality($7::text[])
    and (select count(*) from meters where event_name = any($8::text[]))
      = cardinality($8::text[])
    as ok
),`;

/**
 * The known customers and meters among those a statement names, as two JSON columns
 * (`customers`, `meters`): what the 422 is built from (event-checks.ts). `customer` and `meter`
 * match them: against the batch's arrays, or one event's values. With `unless`, a condition,
 * both are null where it holds (the batch statements: `refs.ok`, nothing refused).
 */
function knownRefs(customer: string, meter: string, unless?: string): string {
  const open = unless === undefined ? "" : `case when ${unless} then null else\n    `;
  const close = unless === undefined ? "" : " end";
  return `  ${open}(select coalesce(json_agg(json_build_array(key, status)), '[]')
       from customers where key ${customer})${close} as customers,
  ${open}(select coalesce(json_agg(event_name), '[]')
       from meters where event_name ${meter})${close} as meters`;
}

/** knownRefs for the batch statements, when refused: their distinct customers ($7) and event names ($8). */
const REFUSED_REFS = knownRefs("= any($7::text[])", "= any($8::text[])", "refs.ok");

/**
 * Ingest's one statement: checks the batch's customers and meters, inserts the new events and
 * finds ids reused with other content, in ONE round trip and one implicit transaction (no BEGIN,
 * no COMMIT of our own: a single statement commits or rolls back whole).
 *
 * - `input` is the batch as column arrays ($1–$6, one element per event, in id order): six
 *   array parameters whatever the batch size, where a multi-row VALUES has one per cell.
 * - `refs` is true when every customer ($7, distinct keys) exists and is active and every event
 *   name ($8, distinct) has a meter. When it is false nothing is inserted, and the known
 *   customers and meters are returned so that the 422 names each problem (event-checks.ts).
 * - `written` inserts in id order, so two batches sharing ids lock them in the same order (no
 *   deadlock). The unique id decides atomically what is new, even against a concurrent request.
 *   An id already stored takes the DO UPDATE branch only when its stored content differs (a
 *   conflict); an identical replay (a duplicate) matches no row of the WHERE and writes nothing.
 *   DO UPDATE, not DO NOTHING, because it judges the stored row's latest version: a row a
 *   concurrent request committed after this statement's snapshot is compared too, where a
 *   SELECT here would not see it. Its SET is a no-op that never persists: see `conflicts`.
 *   A timestamp the producer did not send is not content (sameContent in event-checks.ts).
 * - `conflicts` counts the rows DO UPDATE returned (their stored content differs from the
 *   input; inserted rows match it). Any at all aborts the whole statement with a cast error
 *   carrying CONFLICT_MARKER, so the batch is stored whole or not at all: plain SQL has no RAISE,
 *   and an error is the one thing that undoes a data-modifying CTE. The cast's operand is not
 *   a constant, so the planner cannot fold it and fail a batch with no conflict.
 */
export const INSERT_EVENTS_SQL = `
${INPUT_AND_REFS}
written as (
  insert into usage_events as stored (id, customer_key, event_name, value, occurred_at)
  select id, customer_key, event_name, value, occurred_at from input
  where (select ok from refs)
  on conflict (id) do update set id = excluded.id
  where stored.customer_key <> excluded.customer_key
     or stored.event_name <> excluded.event_name
     or stored.value <> excluded.value
     or (stored.occurred_at <> excluded.occurred_at
         and not exists (select from input d where d.id = excluded.id and d.time_defaulted))
  returning stored.id, stored.customer_key, stored.event_name, stored.value, stored.occurred_at
)
select
  refs.ok as refs_ok,
  (select count(*)::int from written) as written,
  (select case when count(*) = 0 then 0 else ('${CONFLICT_MARKER} ' || count(*))::int end
     from written w join input e using (id)
     where w.customer_key <> e.customer_key or w.event_name <> e.event_name or w.value <> e.value
        or (w.occurred_at <> e.occurred_at and not e.time_defaulted)) as conflicts,
${REFUSED_REFS}
from refs`;

/**
 * The common case first: a batch whose ids are all new. The same checks of customers and meters,
 * then a plain INSERT with no ON CONFLICT: a speculative insertion (what ON CONFLICT needs for
 * every row) and the conflict judgement cost the server ~7 of its ~20 µs per event. When any id
 * of the batch is already stored (a producer's retry, a reused id, an id repeated within the
 * batch, or a concurrent request's), the INSERT fails on the primary key, nothing of the batch
 * is stored (one statement), and the caller runs INSERT_EVENTS_SQL, which judges each.
 * No read of usage_events decides which way to go: a prepared statement's plan for such a read
 * is fixed from the statistics of its first calls, and an outbox analyzed while empty would
 * have it scan the whole table on every request.
 * Takes INSERT_EVENTS_SQL's parameters ($6, time_defaulted, goes unread into `input`).
 */
export const INSERT_NEW_EVENTS_SQL = `
${INPUT_AND_REFS}
written as (
  insert into usage_events (id, customer_key, event_name, value, occurred_at)
  select id, customer_key, event_name, value, occurred_at from input
  where (select ok from refs)
  returning 1
)
select
  refs.ok as refs_ok,
  (select count(*)::int from written) as written,
${REFUSED_REFS}
from refs`;

/** Prepared-statement name of INSERT_NEW_EVENTS_SQL. */
export const INSERT_NEW_EVENTS_NAME = "meterline_insert_new_events";

/**
 * INSERT_NEW_EVENTS_SQL for a request of ONE event, with the event's fields as five scalars
 * ($1–$5: id, customer, event name, value, occurred at). Same checks, same row, and the same
 * unique violation when the id is taken. Why a second text: Postgres plans a prepared statement
 * anew on each call while a custom plan looks cheaper than the generic one, and with arrays it
 * does for one event (a custom plan knows the array holds one element; the generic assumes
 * more). A connection that has served only single events, as behind producers that send one
 * at a time, planned every request anew: ~140 of its ~380 µs of server CPU. (One that served
 * large batches first had moved to the generic plan, whose custom plans cost more.) With
 * scalars the generic plan costs the same and is kept after the fifth call, whatever came
 * before. Like any generic plan it is made again when a table it reads is analyzed, so its
 * lookups of customers and meters follow their size (autovacuum analyzes a table as it grows).
 *
 * A plain INSERT … SELECT … WHERE, not the batch's CTEs: it returns one row when the event is
 * stored, none when its customer or meter refused it (REFUSED_ONE_EVENT_SQL then says which).
 * The CTEs, the count and the refusal's columns (subplans, set up at every execution even when
 * not run) cost the server ~20–40 µs more per request, of ~110 for a bare insert (backend
 * CPU, 5,000 requests at 500/s, alternating).
 */
export const INSERT_ONE_EVENT_SQL = `
insert into usage_events (id, customer_key, event_name, value, occurred_at)
select $1::text, $2::text, $3::text, $4::bigint, $5::timestamptz
 where (select status = 'active' from customers where key = $2::text) is true
   and exists (select from meters where event_name = $3::text)
returning 1 as written`;

/**
 * Why INSERT_ONE_EVENT_SQL stored nothing: the refusal's row as INSERT_NEW_EVENTS_SQL gives it,
 * for the event's customer ($1) and event name ($2). Read after the insert, so a customer or
 * meter made meanwhile may show no problem: the caller then tries the insert again.
 */
export const REFUSED_ONE_EVENT_SQL = `
select false as refs_ok, 0 as written,
${knownRefs("= $1::text", "= $2::text")}`;

/** Prepared-statement name of REFUSED_ONE_EVENT_SQL. */
export const REFUSED_ONE_EVENT_NAME = "meterline_refused_one_event";

/** Prepared-statement name of INSERT_ONE_EVENT_SQL. */
export const INSERT_ONE_EVENT_NAME = "meterline_insert_one_event";

/** INSERT_ONE_EVENT_SQL's parameters. */
export function insertOneEventParams(e: EventInput): unknown[] {
  return [e.id, e.customer, e.eventName, e.value, e.occurredAt.toISOString()];
}

/** True when an error is a unique violation of usage_events's key: an id of the batch is taken. */
export function isTakenId(err: unknown): boolean {
  const { code, constraint } = (err ?? {}) as { code?: unknown; constraint?: unknown };
  return code === "23505" && (constraint === undefined || constraint === "usage_events_pkey");
}

/** Prepared-statement name of INSERT_EVENTS_SQL (one plan per connection). */
export const INSERT_EVENTS_NAME = "meterline_insert_events";

/** The statement's one row. `customers` and `meters` are set only when `refs_ok` is false. */
export interface InsertEventsRow {
  refs_ok: boolean;
  /** Events inserted by this statement (duplicates are not written). */
  written: number;
  customers: Array<[string, "active" | "deleted"]> | null;
  meters: string[] | null;
}

/** The statement's parameters for a batch already sorted by id (see byId). */
export function insertEventsParams(sorted: readonly EventInput[]): unknown[] {
  const n = sorted.length;
  const ids = new Array<string>(n);
  const customerKeys = new Array<string>(n);
  const eventNames = new Array<string>(n);
  const values = new Array<number>(n);
  const occurredAt = new Array<string>(n);
  const defaulted = new Array<boolean>(n);
  const customers = new Set<string>();
  const meters = new Set<string>();
  for (let i = 0; i < n; i++) {
    const e = sorted[i] as EventInput;
    ids[i] = e.id;
    customerKeys[i] = e.customer;
    eventNames[i] = e.eventName;
    values[i] = e.value;
    occurredAt[i] = e.occurredAt.toISOString();
    defaulted[i] = e.occurredAtDefaulted;
    customers.add(e.customer);
    meters.add(e.eventName);
  }
  return [
    ids,
    customerKeys,
    eventNames,
    values,
    occurredAt,
    defaulted,
    [...customers],
    [...meters],
  ];
}

/** True when an error is the statement's own abort on a reused id (see CONFLICT_MARKER). */
export function isConflictAbort(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err as Error & { code?: unknown }).code === "22P02" &&
    err.message.includes(CONFLICT_MARKER)
  );
}

/** Orders events by id (code units): every batch locks shared ids in the same order. */
export function byId(a: EventInput, b: EventInput): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
