import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { epochMs } from "../db/epoch-ms.ts";
import { rows } from "../db/rows.ts";
import type { UsageEventAttempt } from "../db/schema/usage-event-attempts.ts";

/**
 * usage_event_attempts's columns, in the order ATTEMPT_HISTORY and requestAsAttemptValues give
 * them.
 */
export const ATTEMPT_COLUMNS = sql.raw(
  "id, event_id, attempt, worker, outcome, http_status, stripe_code, request_id, message, started_at, finished_at",
);

/**
 * A request row (`r`, usage_event_requests) as the attempt row of one of its events (`e`:
 * usage_events, or rows with its id and attempts), in ATTEMPT_COLUMNS's order: the request
 * row's id and record, the event's id, and as attempt number the event's count of attempts (a
 * delivered event's count does not change while it stays reported). What the history reads and what an asynchronous rejection
 * copies into the event's own rows (async-reject.ts).
 */
export const requestAsAttemptValues = sql.raw(
  "r.id, e.id, e.attempts, r.worker, r.outcome, r.http_status, r.stripe_code, r.request_id, r.message, r.started_at, r.finished_at",
);

/**
 * Every event's attempts as one table of usage_event_attempts's shape: its own rows, and the
 * request row that was its delivery when the request's events shared one (usage_events.
 * delivered_by). Ids come from one sequence: ordered by id, an event's rows read in the order
 * they were written. For reads across events (checks, tests), and for one event's (attemptsOf).
 */
export const ATTEMPT_HISTORY = sql`(
  select ${ATTEMPT_COLUMNS} from usage_event_attempts
  union all
  select ${requestAsAttemptValues}
    from usage_events e join usage_event_requests r on r.id = e.delivered_by
)`;

/**
 * One event's attempts as the history gives them (ATTEMPT_HISTORY), in the order they were
 * written: what trace reads. The id reaches both of the history's parts (exported so that a
 * test can read its plan): its own rows by their key, and the event by its key with the request
 * row it names.
 */
export function attemptsOfStatement(eventId: string): SQL {
  return sql`select h.id::float8 as id, h.event_id as "eventId", h.attempt, h.worker,
      h.outcome, h.http_status as "httpStatus", h.stripe_code as "stripeCode",
      h.request_id as "requestId", h.message,
      ${epochMs(sql`h.started_at`)} as "startedAt", ${epochMs(sql`h.finished_at`)} as "finishedAt"
    from ${ATTEMPT_HISTORY} h
    where h.event_id = ${eventId}
    order by h.id`;
}

/** attemptsOfStatement's rows, typed as usage_event_attempts's. */
export async function attemptsOf(db: Db, eventId: string): Promise<UsageEventAttempt[]> {
  const found = await rows<Record<string, unknown>>(db, attemptsOfStatement(eventId));
  return found.map((r) => ({
    id: Number(r.id),
    eventId: String(r.eventId),
    attempt: Number(r.attempt),
    worker: String(r.worker),
    outcome: String(r.outcome),
    httpStatus: r.httpStatus === null ? null : Number(r.httpStatus),
    stripeCode: r.stripeCode as string | null,
    requestId: r.requestId as string | null,
    message: r.message as string | null,
    startedAt: new Date(Number(r.startedAt)),
    finishedAt: new Date(Number(r.finishedAt)),
  }));
}
