import { sql } from "drizzle-orm";
import type { UsageEventAttempt } from "../db/schema/usage-event-attempts.ts";
import type { UsageEventRequest } from "../db/schema/usage-event-requests.ts";

/**
 * Every event's attempts as one table of usage_event_attempts's shape: its own rows, and the
 * request row that was its delivery when the request's events shared one (usage_events.
 * delivered_by), as attempt number `attempts` (a delivered event's count does not change while
 * it stays reported). Ids come from one sequence: ordered by id, an event's rows read in the
 * order they were written. For reads across events (checks, tests); trace reads one event's
 * rows by key (requestAsAttempt).
 */
export const ATTEMPT_HISTORY = sql`(
  select a.id, a.event_id, a.attempt, a.worker, a.outcome, a.http_status, a.stripe_code,
         a.request_id, a.message, a.started_at, a.finished_at
    from usage_event_attempts a
  union all
  select r.id, e.id, e.attempts, r.worker, r.outcome, r.http_status, r.stripe_code,
         r.request_id, r.message, r.started_at, r.finished_at
    from usage_events e join usage_event_requests r on r.id = e.delivered_by
)`;

/** A request row as the attempt row of one of its events, which has made `attempts` attempts. */
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
