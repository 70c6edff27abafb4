import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import { ATTEMPT_COLUMNS, requestAsAttemptValues } from "./attempt-history.ts";
import { addToCount } from "./event-counts.ts";
import { leaseCleared } from "./lease-sql.ts";
import { releaseRequestRows } from "./request-rows.ts";

/**
 * What applying recorded asynchronous rejections did, by identifier. Every identifier passed in
 * lands in exactly one list.
 */
export interface AsyncRejectOutcome {
  /** Reported or pending (leased or not): now failed with Stripe's code. */
  failed: string[];
  /** Already failed for another reason: it stays so, and an attempt row adds Stripe's verdict. */
  noted: string[];
  /**
   * Already failed with this rejection's code, discarded, or with no rejection recorded (the
   * caller records before applying): nothing to add.
   */
  unchanged: string[];
  /** No such event in the outbox (the rejection is still recorded: see billing sync). */
  unknown: string[];
}

/**
 * The dead-letter message of an event failed by an asynchronous rejection, over the recorded
 * rejection `rej` (async_rejections). Worded as outbox/settle.ts words the same verdict when it
 * overrules a delivery, so a person reads one sentence whichever path failed the event.
 */
export const asyncRejectionMessage = sql`'Stripe accepted this event, then rejected it in ' ||
  'asynchronous validation (' || rej.code || ', thin event ' || rej.stripe_event_id || '): ' ||
  rej.message || '. It is not billed. Its identifier stays taken at Stripe: fix the cause, send ' ||
  'a corrected event with a new id, and discard this one.'`;

/**
 * Applies the asynchronous rejections recorded for `identifiers` (rows of async_rejections,
 * written first by billing sync: the FIRST rejection of an identifier is the one applied, here
 * and by settle) to their events. The one transition for "Stripe rejected it after its 200":
 *
 * - reported → failed. Stripe answered 200 and then refused to count it: it is not billed.
 * - pending → failed, leased or not. It waits for a resend (a retry, an operator retry, a wait)
 *   or is being resent, and every resend would be answered "An event already exists with
 *   identifier …": that answer means Stripe holds the identifier, not that it counted the event.
 *   A worker sending it right now loses its settle (lease_lost, its answer kept in the audit
 *   trail), as for any lost lease. Failing it here rather than leaving it to that worker closes a
 *   race: a settle UPDATE reads async_rejections in the snapshot it started with, so one that
 *   waited on this transaction's row lock would not see the rejection and would write reported.
 * - failed → stays failed (it keeps its own reason and dead-letter time); if that reason is not
 *   already this rejection, an attempt row records that Stripe rejected it too, so trace shows
 *   it. discarded → unchanged: a person already decided.
 *
 * Each change writes failed_at = now(), clears lease and wait reason, and writes an attempt row
 * (outcome async_rejected, worker "stripe"). No attempt is counted: Meterline sent nothing.
 *
 * What a person does about a rejected event. An operator retry resends it under the same
 * identifier; Stripe answers "already exists" (it keeps an identifier for 24 h or more), and the
 * settle fails it again with the recorded rejection: a retry cannot succeed, whatever was fixed.
 * Instead: fix the cause (link or recreate the customer, reactivate the meter, correct the value),
 * send a corrected event with a NEW id (the old identifier is burned at Stripe), then discard the
 * old one (`meterline dlq discard`), so the books show what was replaced and why.
 *
 * Concurrency: the events' rows are locked first, in id order, in a statement of its own. A
 * settle already writing one of them commits before the outcome is decided, so a delivery that
 * just landed is seen as reported, and failed. A settle that reaches a row later waits for the
 * caller's commit, then finds it no longer pending (its guard re-checks the locked row), and
 * writes nothing but its lease_lost audit row (test/billing/async-reject-race.test.ts). Runs in
 * its own transaction, or in a savepoint of the caller's (billing sync records the rejections and
 * the Stripe event in the same one), so the locks are held until the caller commits.
 */
export async function asyncReject(
  db: Db,
  identifiers: readonly string[],
): Promise<AsyncRejectOutcome> {
  const outcome: AsyncRejectOutcome = {
    failed: [],
    noted: [],
    unchanged: [],
    unknown: [],
  };
  const ids = [...new Set(identifiers)].sort();
  if (ids.length === 0) return outcome;
  const json = JSON.stringify(ids);
  const applied = await db.transaction(async (tx) => {
    // Lock first, in a statement of its own: the next statement's snapshot is then taken after
    // any settle of these rows has committed, and nothing changes them until we commit.
    await rows(
      tx,
      sql`select e.id from usage_events e
          where e.id in (select jsonb_array_elements_text(${json}::jsonb))
          order by e.id
          for update`,
    );
    return rows<{
      id: string;
      before: string | null;
      failed: boolean;
      noted: boolean;
    }>(
      tx,
      sql`
      with named as (
        select jsonb_array_elements_text(${json}::jsonb) as id
      ),
      rej as (
        select r.identifier, r.code, r.message, r.stripe_event_id
          from async_rejections r join named n on n.id = r.identifier
      ),
      failed as (
        update usage_events as e set
          status = 'failed',
          last_error_code = rej.code,
          last_error_message = ${asyncRejectionMessage},
          -- Stripe's verdict came in a thin event, not an HTTP answer: no status (revert-systemic
          -- reverts only HTTP rejections, and this one is never systemic).
          last_http_status = null,
          failed_at = now(),
          ${leaseCleared},
          wait_reason = null,
          -- An outcome, as in settle: the open claims (the crash-loop measure) start again.
          open_claims = 0,
          -- Its delivery becomes an attempt row of its own (copied, below).
          delivered_by = null
        from rej
        where e.id = rej.identifier
          and e.status in ('reported', 'pending')
        returning e.id
      ),
      -- Failed for another reason (pre-flight, a synchronous rejection, retries exhausted):
      -- its reason stays, but a retry would now fail with Stripe's code, and trace must say why.
      noted as (
        select e.id from usage_events e join rej on rej.identifier = e.id
         where e.status = 'failed' and e.last_error_code is distinct from rej.code
      ),
      logged as (
        insert into usage_event_attempts
          (event_id, attempt, worker, outcome, stripe_code, message, started_at)
        select e.id, e.attempts, 'stripe', 'async_rejected', rej.code,
          case when e.status = 'failed'
            then 'Stripe also rejected this identifier in asynchronous validation (' || rej.code ||
              ', thin event ' || rej.stripe_event_id || '): ' || rej.message || '. It stays ' ||
              'failed as ' || coalesce(e.last_error_code, 'no code') || ' and is not billed; a ' ||
              'retry would be answered "already exists" and fail with ' || rej.code || ': fix ' ||
              'the cause, send a corrected event with a new id, and discard this one.'
            else 'Stripe rejected this identifier in asynchronous validation after accepting it (' ||
              rej.code || ', thin event ' || rej.stripe_event_id || '): ' || rej.message ||
              '. It was ' || e.status || ', now failed: it is not billed.'
          end,
          now()
        -- usage_events as this statement's snapshot sees it: the state before the update.
        from usage_events e join rej on rej.identifier = e.id
        where e.id in (select id from failed union all select id from noted)
      ),
      -- A delivery its request's row recorded (usage_event_requests) becomes the event's own
      -- attempt row, under the same id so that it keeps its place in the history; the request
      -- row loses the event. Only while reported does an event name a request row.
      leaving as (
        select e.id, e.attempts, e.delivered_by from usage_events e
         where e.id in (select id from failed) and e.delivered_by is not null
      ),
      copied as (
        insert into usage_event_attempts (${ATTEMPT_COLUMNS})
        select ${requestAsAttemptValues}
        from leaving e join usage_event_requests r on r.id = e.delivered_by
      ),
      ${releaseRequestRows("leaving")},
      -- The rows are locked (above), so this snapshot's status is the one each update replaced.
      uncounted as (${addToCount(
        "reported",
        sql`select count(*) as n from failed f join usage_events e on e.id = f.id where e.status = 'reported'`,
        -1,
      )})
      select n.id, e.status as before,
        exists (select 1 from failed f where f.id = n.id) as failed,
        exists (select 1 from noted o where o.id = n.id) as noted
      from named n left join usage_events e on e.id = n.id`,
    );
  });
  for (const row of applied) {
    if (row.failed) outcome.failed.push(row.id);
    else if (row.noted) outcome.noted.push(row.id);
    else if (row.before === null) outcome.unknown.push(row.id);
    else outcome.unchanged.push(row.id);
  }
  return outcome;
}
