import { asc, eq } from "drizzle-orm";
import { defaultConfig } from "../config.ts";
import type { Db } from "../db/connect.ts";
import { type UsageEventAttempt, usageEventAttempts } from "../db/schema/usage-event-attempts.ts";
import { type UsageEvent, usageEvents } from "../db/schema/usage-events.ts";
import { workerGoneAfterMs, workersAlive } from "../outbox/workers.ts";

/** The workers' "gone" rule at the default lease, for callers that do not pass their own. */
const DEFAULT_LIVE_WITHIN_MS = workerGoneAfterMs(defaultConfig().worker.leaseMs);

/** One send attempt (or pre-flight decision) as the trace shows it. */
export interface AttemptView {
  attempt: number;
  /**
   * delivered, retry, rejected… or worker_lost: the event was claimed and its worker stopped
   * (killed, crashed, frozen past its lease) before any outcome; `worker` is that lease owner.
   */
  outcome: string;
  http_status: number | null;
  stripe_code: string | null;
  request_id: string | null;
  message: string | null;
  worker: string;
  /**
   * Whether `worker` is alive now (workers table, by the database clock): false for a worker that
   * stopped or stopped beating; null when the table does not know it (an operator, a worker from
   * before the registry).
   */
  worker_alive: boolean | null;
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

/**
 * Reads an event, its attempts and whether their workers are alive (three indexed queries, the
 * last one skipped when there is no attempt); null when no event has this id. `liveWithinMs` is
 * the "gone" rule of outbox/workers.ts for the workers' lease (default: the default lease).
 */
export async function getEventTrace(
  db: Db,
  id: string,
  now = new Date(),
  liveWithinMs = DEFAULT_LIVE_WITHIN_MS,
): Promise<EventTrace | null> {
  const [event] = await db.select().from(usageEvents).where(eq(usageEvents.id, id));
  if (event === undefined) return null;
  const attempts = await db
    .select()
    .from(usageEventAttempts)
    .where(eq(usageEventAttempts.eventId, id))
    .orderBy(asc(usageEventAttempts.id));
  const alive = await workersAlive(db, [...new Set(attempts.map((a) => a.worker))], liveWithinMs);
  return eventTrace(event, attempts, now, alive);
}

/**
 * Renders an event row and its attempt rows (in order) as a trace; `alive` says which workers
 * are alive now (a worker absent from it is unknown). Pure.
 */
export function eventTrace(
  event: UsageEvent,
  attempts: readonly UsageEventAttempt[],
  now: Date,
  alive: ReadonlyMap<string, boolean> = new Map(),
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
      worker_alive: alive.get(a.worker) ?? null,
      started_at: a.startedAt.toISOString(),
      finished_at: a.finishedAt.toISOString(),
    })),
  };
}

function iso(date: Date | null): string | null {
  return date?.toISOString() ?? null;
}
