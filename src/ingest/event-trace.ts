import { eq } from "drizzle-orm";
import { z } from "zod";
import { defaultConfig } from "../config.ts";
import type { Db } from "../db/connect.ts";
import type { UsageEventAttempt } from "../db/schema/usage-event-attempts.ts";
import { eventStatuses, type UsageEvent, usageEvents } from "../db/schema/usage-events.ts";
import { attemptsOf } from "../outbox/attempt-history.ts";
import { workerGoneAfterMs, workersAlive } from "../outbox/workers.ts";

/** The workers' "gone" rule at the default lease, for callers that do not pass their own. */
const DEFAULT_LIVE_WITHIN_MS = workerGoneAfterMs(defaultConfig().worker.leaseMs);

/** A time as the API shows it: ISO 8601 in UTC. */
const isoTime = z.string().describe("ISO 8601, UTC");

/** An error as Stripe (or pre-flight) gave it. */
export const eventErrorSchema = z.object({
  code: z.string().nullable(),
  message: z.string().nullable(),
  http_status: z.number().int().nullable(),
  request_id: z.string().nullable().describe("Stripe's request id, to quote to Stripe"),
});

/** One send attempt (or pre-flight decision) as the trace shows it. */
export const attemptViewSchema = z.object({
  attempt: z.number().int(),
  outcome: z
    .string()
    .describe(
      "delivered, retry, rejected… or worker_lost: the event was claimed and its worker stopped (killed, crashed, frozen past its lease) before any outcome; `worker` is that lease owner",
    ),
  http_status: z.number().int().nullable(),
  stripe_code: z.string().nullable(),
  request_id: z.string().nullable(),
  message: z.string().nullable(),
  worker: z.string(),
  worker_alive: z
    .boolean()
    .nullable()
    .describe(
      "Whether `worker` is alive now: false for a worker that stopped or stopped beating; null when the workers table does not know it (an operator, a worker from before the registry)",
    ),
  started_at: isoTime,
  finished_at: isoTime,
});

/** One send attempt (or pre-flight decision) as the trace shows it. */
export type AttemptView = z.infer<typeof attemptViewSchema>;

/** An event's whole story: where it stands, why it waits or failed, and every attempt. */
export const eventTraceSchema = z.object({
  id: z.string(),
  customer: z.string(),
  event_name: z.string(),
  value: z.number().int(),
  status: z.enum(eventStatuses),
  occurred_at: isoTime,
  received_at: isoTime,
  next_attempt_at: isoTime,
  attempts: z.number().int().describe("Counted send attempts"),
  wait_reason: z.string().nullable().describe("Why a pending event waits; null when it does not"),
  lease: z
    .object({ owner: z.string(), expires_at: isoTime })
    .nullable()
    .describe("The worker holding the event right now, when its lease has not expired"),
  last_error: eventErrorSchema.nullable(),
  stripe_request_id: z.string().nullable(),
  first_attempt_at: isoTime.nullable(),
  last_attempt_at: isoTime.nullable(),
  reported_at: isoTime.nullable(),
  failed_at: isoTime.nullable(),
  history: z.array(attemptViewSchema).describe("Every attempt row, oldest first"),
});

/** An event's whole story: where it stands, why it waits or failed, and every attempt. */
export type EventTrace = z.infer<typeof eventTraceSchema>;

/**
 * Reads an event, its attempts and whether their workers are alive (up to three indexed
 * queries: the workers only when there is an attempt); null when no event has this id.
 * `liveWithinMs` is the "gone" rule of outbox/workers.ts for the workers' lease (default: the
 * default lease).
 */
export async function getEventTrace(
  db: Db,
  id: string,
  now = new Date(),
  liveWithinMs = DEFAULT_LIVE_WITHIN_MS,
): Promise<EventTrace | null> {
  const [event] = await db.select().from(usageEvents).where(eq(usageEvents.id, id));
  if (event === undefined) return null;
  const attempts = await attemptsOf(db, id);
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
