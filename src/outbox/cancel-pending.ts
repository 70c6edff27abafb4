import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import { DRY_RUN_SAMPLE, MATCHED_IDS_MAX, REFUSED_SAMPLE } from "./dlq-statement.ts";
import { addToCount } from "./event-counts.ts";
import { leaseCleared } from "./lease-sql.ts";
import { leasedNow, namedIds, type PendingTarget, pendingWhere } from "./pending-where.ts";

/** How an operator asks to cancel pending events. */
export interface CancelRun {
  target: PendingTarget;
  /** Count and sample what would change; change nothing. */
  dryRun: boolean;
  /** Most events one statement changes; a filter that matches more leaves the rest for a next call. */
  limit: number;
  /** Who did it, for the messages (e.g. `key "ops" (id 3)`). */
  actor: string;
  /** The audit row's worker column: the key's name, or "operator". */
  worker: string;
  /** The person's own words: why. Kept in the audit row and the event's last error message. */
  reason: string;
}

/** What a cancel statement (or its dry run) found and did. */
export interface CancelOutcome {
  /** Pending events the target matched, as the statement saw them. */
  matched: number;
  /** Ids it cancelled (none on a dry run), oldest received first. */
  changed: string[];
  /** How many of the matched it would cancel, in this and later batches (dry run). */
  wouldChangeCount: number;
  /** A sample (up to DRY_RUN_SAMPLE) of the ids it would cancel (dry run). */
  wouldChange: string[];
  /** Matched, but leased right now (a worker may be sending them): refused. */
  refused: number;
  /** The refused ids: a sample for a filter, every one for named ids. */
  refusedIds: string[];
  /** Named ids: no event has them. */
  unknownIds: string[];
  /** Named ids: events that exist but are not pending, with their status. */
  notPending: Array<{ id: string; status: string }>;
  /** Of the cancelled (dry run: of those it would cancel), how many were sent before. */
  sentBefore: number;
  /** A sample (up to DRY_RUN_SAMPLE) of those: Stripe may hold them. */
  sentBeforeIds: string[];
}

interface OutcomeRow extends Record<string, unknown> {
  matched: number;
  refused: number;
  would_change: number;
  sent_before: number;
  changed_ids: string | null;
  would_ids: string | null;
  refused_ids: string | null;
  sent_ids: string | null;
  unknown_ids: string | null;
  not_pending: string | null;
}

/** to_char in UTC, to the second: both drivers return text. */
function iso(column: SQL): SQL {
  return sql`to_char((${column}) at time zone 'UTC', ${'YYYY-MM-DD"T"HH24:MI:SS"Z"'})`;
}

/**
 * Operator cancel: pending → discarded, in ONE guarded statement per batch, for events that must
 * never be sent (a producer's clock in 2100, a test customer's usage, a duplicate under another
 * id). Like a dead-letter action (dlq-statement.ts) it selects what the target matches, changes
 * up to `limit` of them, writes one audit row per changed event and counts; unlike one, the
 * events it changes are live, so:
 *
 * - A leased event (lease not expired) is refused: a worker may be sending it right now, and
 *   discarding it under the worker could lose a delivery Stripe already counted. A filter skips
 *   and reports it; named ids are all or nothing (any leased, unknown or non-pending id, and
 *   nothing changes).
 * - The rows it changes are locked first (named ids: FOR UPDATE, in id order; a filter: FOR
 *   UPDATE SKIP LOCKED, so it never waits behind a claim), and the lock and the UPDATE re-check
 *   `status = 'pending'` and the lease on the row's latest version: a claim cannot slip in
 *   between the check and the change (a named event claimed meanwhile is refused as leased), and
 *   two operators cannot both cancel (or both audit) one event. Leased rows are never locked.
 * - An event sent before (first_sent_at set) may be held by Stripe: it is still cancelled (it
 *   will not be sent again), and the audit row says so and names the identifier to look up.
 *
 * The event keeps its row: last_error_code `cancelled`, the person's words and who in
 * last_error_message, failed_at now (its dead-letter age), no wait reason, no lease.
 */
export async function cancelPending(db: Db, run: CancelRun): Promise<CancelOutcome> {
  const named = "ids" in run.target;
  const dry = run.dryRun;
  const selected = sql`e.id, e.status, e.received_at, e.attempts, e.wait_reason, e.first_sent_at,
    e.event_name, ${leasedNow} as leased`;

  // matched: the target's pending events; batch: what this statement changes (at most limit).
  // Only a real run locks (a dry run reads, and must not hold up the workers), and it locks only
  // rows it may change: a leased row is the workers', and waiting on it could deadlock a settle.
  let head: SQL;
  if ("ids" in run.target) {
    // Locked in id order, after the snapshot said pending and free: the lock re-checks both on
    // the row's latest version, so an event a worker claimed meanwhile drops out (and counts as
    // leased below) instead of being changed under the worker.
    const locked = dry
      ? sql`select id from found where status = 'pending' and not leased`
      : sql`select e.id from usage_events e
             where e.id in (select id from found where status = 'pending' and not leased)
               and e.status = 'pending' and not ${leasedNow}
             order by e.id
             for update of e`;
    head = sql`
    named as (select distinct t.id from ${namedIds(run.target.ids)} as t(id)),
    found as materialized (
      select ${selected} from usage_events e where e.id in (select id from named)
    ),
    locked as materialized (${locked}),
    matched as (
      select f.id, f.received_at, f.attempts, f.wait_reason, f.first_sent_at, f.event_name,
             not exists (select 1 from locked l where l.id = f.id) as leased
        from found f
       where f.status = 'pending'
    ),
    -- All or nothing: one unknown, non-pending or leased named id, and nothing is changed.
    blocked as (
      select n.id from named n left join matched m on m.id = n.id
       where m.id is null or m.leased
    ),
    batch as (
      select * from matched
       where not leased and not exists (select 1 from blocked)
       order by received_at, id
       limit ${run.limit}::int
    )`;
  } else {
    const where = pendingWhere(run.target.filter);
    head = sql`
    matched as (select ${selected} from usage_events e where ${where}),
    batch as materialized (
      select ${selected} from usage_events e
       where ${where} and not ${leasedNow}
       order by e.received_at, e.id
       limit ${run.limit}::int
       -- SKIP LOCKED: never wait behind a claim; what it skips is left for a next call.
       ${dry ? sql`` : sql`for update of e skip locked`}
    )`;
  }

  const sentClause = sql`case
    when b.first_sent_at is null then '. It was never sent: Stripe does not hold it.'
    when (select m.delivery_mode from meters m where m.event_name = b.event_name) = 'usage_records'
      then format('. It WAS sent before (first at %s), so Stripe may hold it: check the usage records of its subscription item in Stripe for event %s (Idempotency-Key meterline-ur-…), and correct the usage there if it counted.',
        ${iso(sql`b.first_sent_at`)}, b.id)
    else format('. It WAS sent before (first at %s), so Stripe may hold it: look up meter event identifier "%s" in Stripe; if it counted, a meter event adjustment can cancel it within 24 h of Stripe receiving it (until about %s).',
        ${iso(sql`b.first_sent_at`)}, b.id, ${iso(sql`b.first_sent_at + interval '24 hours'`)})
    end`;
  const change = dry
    ? sql`select id from batch where false`
    : sql`update usage_events as e set
          status = 'discarded',
          ${leaseCleared},
          wait_reason = null,
          -- Its dead-letter age: when it stopped being live.
          failed_at = now(),
          last_error_code = 'cancelled',
          last_error_message = format('cancelled by %s: %s%s', ${run.actor}::text, ${run.reason}::text,
            case when b.first_sent_at is null then ''
              else format(' (it was sent to Stripe before, first at %s: Stripe may hold it as identifier "%s"; see its trace)',
                ${iso(sql`b.first_sent_at`)}, b.id) end),
          -- The last error now describes the cancel; every attempt's answer stays in the history.
          last_http_status = null,
          last_request_id = null
          from batch b
         where e.id = b.id
           -- The guard: only an event still pending and still not leased is changed.
           and e.status = 'pending'
           and not ${leasedNow}
        returning e.id`;
  const audit = dry
    ? sql``
    : sql`, audit as (
        insert into usage_event_attempts (event_id, attempt, worker, outcome, message, started_at)
        select b.id, b.attempts, ${run.worker}::text, 'operator_cancel',
               format('cancelled by %s: %s; it was pending (%s, %s counted attempt(s)) and will not be sent to Stripe%s',
                 ${run.actor}::text, ${run.reason}::text,
                 coalesce('waiting: ' || b.wait_reason, 'no wait reason'), b.attempts, ${sentClause}),
               now()
          from changed c join batch b on b.id = c.id
      ),
      counted as (${addToCount("discarded", sql`select count(*) as n from changed`)})`;
  // Dry run: every match it would change; a real run: what it changed.
  const sentFrom = dry
    ? sql`(select id, received_at from matched where not leased and first_sent_at is not null
           ${named ? sql`and not exists (select 1 from blocked)` : sql``})`
    : sql`(select b.id, b.received_at from changed c join batch b on b.id = c.id
            where b.first_sent_at is not null)`;
  const refusedCap = named ? MATCHED_IDS_MAX : REFUSED_SAMPLE;
  const namedParts = named
    ? sql`,
      (select json_agg(n.id order by n.id)::text
         from named n where not exists (select 1 from found f where f.id = n.id)) as unknown_ids,
      (select json_agg(json_build_object('id', f.id, 'status', f.status) order by f.id)::text
         from found f where f.status <> 'pending') as not_pending`
    : sql`, null::text as unknown_ids, null::text as not_pending`;

  const [row] = await rows<OutcomeRow>(
    db,
    sql`
    with ${head},
    changed as (${change})
    ${audit}
    select
      (select count(*)::int from matched) as matched,
      (select count(*)::int from matched where leased) as refused,
      (select count(*)::int from matched where not leased) as would_change,
      (select count(*)::int from ${sentFrom} s) as sent_before,
      (select json_agg(b.id order by b.received_at, b.id)::text
         from changed c join batch b on b.id = c.id) as changed_ids,
      (select json_agg(id order by received_at, id)::text
         from (select id, received_at from batch order by received_at, id
                limit ${DRY_RUN_SAMPLE}::int) s) as would_ids,
      (select json_agg(id order by received_at, id)::text
         from (select id, received_at from matched where leased order by received_at, id
                limit ${refusedCap}::int) s) as refused_ids,
      (select json_agg(id order by received_at, id)::text
         from (select id, received_at from ${sentFrom} s0 order by received_at, id
                limit ${DRY_RUN_SAMPLE}::int) s) as sent_ids
      ${namedParts}`,
  );
  if (row === undefined) throw new Error("cancel statement returned no row");
  const unknownIds = idList(row.unknown_ids);
  const notPending =
    row.not_pending === null
      ? []
      : (JSON.parse(row.not_pending) as Array<{ id: string; status: string }>);
  const blocked = named && (unknownIds.length > 0 || notPending.length > 0 || row.refused > 0);
  return {
    matched: row.matched,
    changed: idList(row.changed_ids),
    // Named ids with a refusal change nothing (all or nothing, above).
    wouldChangeCount: blocked ? 0 : row.would_change,
    wouldChange: idList(row.would_ids),
    refused: row.refused,
    refusedIds: idList(row.refused_ids),
    unknownIds,
    notPending,
    sentBefore: row.sent_before,
    sentBeforeIds: idList(row.sent_ids),
  };
}

/** json_agg(...)::text of ids, or null for none. */
function idList(json: string | null): string[] {
  return json === null ? [] : (JSON.parse(json) as string[]);
}
