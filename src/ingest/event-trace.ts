import { asc, eq } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { type UsageEventAttempt, usageEventAttempts } from "../db/schema/usage-event-attempts.ts";
import { type UsageEvent, usageEvents } from "../db/schema/usage-events.ts";

/** One send attempt (or pre-flight decision) as the trace shows it. */
export interface AttemptView {
  attempt: number;
  outcome: string;
  http_status: number | null;
  stripe_code: string | null;
  request_id: string | null;
  message: string | null;
  worker: string;
  started_at: string;
  finished_at: string;
}

/** An event's whole story: where it stands, why it waits or failed, and every attempt. */
export interface EventTrace {
  id: string;
  customer: string;
  event_name: string;
  value: number;
  status: UsageEvent["status"];
  occurred_at: string;
  received_at: string;
  next_attempt_at: string;
  /** Counted send attempts. */
  attempts: number;
  /** Why a pending event waits; null when it does not. */
  wait_reason: string | null;
  /** The worker holding the event right now, when its lease has not expired. */
  lease: { owner: string; expires_at: string } | null;
  last_error: {
    code: string | null;
    message: string | null;
    http_status: number | null;
    request_id: string | null;
  } | null;
  stripe_request_id: string | null;
  first_attempt_at: string | null;
  last_attempt_at: string | null;
  reported_at: string | null;
  failed_at: string | null;
  /** Every attempt row, oldest first. */
  history: AttemptView[];
}

/** Reads an event and its attempts (two indexed queries); null when no event has this id. */
export async function getEventTrace(
  db: Db,
  id: string,
  now = new Date(),
): Promise<EventTrace | null> {
  const [event] = await db.select().from(usageEvents).where(eq(usageEvents.id, id));
  if (event === undefined) return null;
  const attempts = await db
    .select()
    .from(usageEventAttempts)
    .where(eq(usageEventAttempts.eventId, id))
    .orderBy(asc(usageEventAttempts.id));
  return eventTrace(event, attempts, now);
}

/** Renders an event row and its attempt rows (in order) as a trace. Pure. */
export function eventTrace(
  event: UsageEvent,
  attempts: readonly UsageEventAttempt[],
  now: Date,
): EventTrace {
  const hasError =
    event.lastErrorCode !== null ||
    event.lastErrorMessage !== null ||
    event.lastHttpStatus !== null;
  const leased =
    event.status === "pending" &&
    event.leaseOwner !== null &&
    event.leaseExpiresAt !== null &&
    event.leaseExpiresAt > now;
  return {
    id: event.id,
    customer: event.customerKey,
    event_name: event.eventName,
    value: event.value,
    status: event.status,
    occurred_at: event.occurredAt.toISOString(),
    received_at: event.receivedAt.toISOString(),
    next_attempt_at: event.nextAttemptAt.toISOString(),
    attempts: event.attempts,
    wait_reason: event.waitReason,
    lease:
      leased && event.leaseOwner !== null && event.leaseExpiresAt !== null
        ? { owner: event.leaseOwner, expires_at: event.leaseExpiresAt.toISOString() }
        : null,
    last_error: hasError
      ? {
          code: event.lastErrorCode,
          message: event.lastErrorMessage,
          http_status: event.lastHttpStatus,
          request_id: event.lastRequestId,
        }
      : null,
    stripe_request_id: event.stripeRequestId,
    first_attempt_at: iso(event.firstAttemptAt),
    last_attempt_at: iso(event.lastAttemptAt),
    reported_at: iso(event.reportedAt),
    failed_at: iso(event.failedAt),
    history: attempts.map((a) => ({
      attempt: a.attempt,
      outcome: a.outcome,
      http_status: a.httpStatus,
      stripe_code: a.stripeCode,
      request_id: a.requestId,
      message: a.message,
      worker: a.worker,
      started_at: a.startedAt.toISOString(),
      finished_at: a.finishedAt.toISOString(),
    })),
  };
}

function iso(date: Date | null): string | null {
  return date?.toISOString() ?? null;
}
