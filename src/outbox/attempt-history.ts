import { sql } from "drizzle-orm";
import type { UsageEventAttempt } from "../db/schema/usage-event-attempts.ts";
import type { UsageEventRequest } from "../db/schema/usage-event-requests.ts";

/**
 * usage_event_attempts's columns, in the order ATTEMPT_HISTORY and requestAsAttemptValues give
 * them.
 */
export const ATTEMPT_COLUMNS = sql.raw(
  "id, event_id, attempt, worker, outcome, http_status, stripe_code, request_id, message, started_at, finished_at",
);

/**
 * A request row (`r`, usage_event_requests) as the attempt row of one of its events (`e`:
 * usage_events, or rows with its id and attempts), in ATTEMPT_COLUMNS's order: the request row's id and record, the event's id,
 * and as attempt number the event's count of attempts (a delivered event's count does not
 * change while it stays reported). What the history reads and what an asynchronous rejection
 * copies into the event's own rows (async-reject.ts); requestAsAttempt is the same for trace.
 */
export const requestAsAttemptValues = sql.raw(
  "r.id, e.id, e.attempts, r.worker, r.outcome, r.http_status, r.stripe_code, r.request_id, r.message, r.started_at, r.finished_at",
);

/**
 * Every event's attempts as one table of usage_event_attempts's shape: its own rows, and the
 * request row that was its delivery when the request's events shared one (usage_events.
 * delivered_by). Ids come from one sequence: ordered by id, an event's rows read in the order
 * they were written. For reads across events (checks, tests); trace reads one event's rows by
 * key (requestAsAttempt).
 */
export const ATTEMPT_HISTORY = sql`(
  select ${ATTEMPT_COLUMNS} from usage_event_attempts
  union all
  select ${requestAsAttemptValues}
    from usage_events e join usage_event_requests r on r.id = e.delivered_by
)`;

/**
 * requestAsAttemptValues for trace: a request row as the attempt row of an event that has made
 * `attempts` attempts.
 */
export function requestAsAttempt(
  eventId: string,
  attempts: number,
  r: UsageEventRequest,
): UsageEventAttempt {
  return {
    id: r.id,
    eventId,
    attempt: attempts,
    worker: r.worker,
    outcome: r.outcome,
    httpStatus: r.httpStatus,
    stripeCode: r.stripeCode,
    requestId: r.requestId,
    message: r.message,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}
