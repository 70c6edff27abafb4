import type { Config } from "../config.ts";
import type { ClaimedEvent } from "../outbox/claim.ts";
import type { DeadLetterCode, WaitReason } from "../outbox/reasons.ts";
import { dedupExpiredMessage, dedupWindowExpired } from "./decide.ts";
import { identifierFor } from "./identifier.ts";
import type { LookupCustomer, LookupMeter } from "./lookups.ts";
import type { OutboundEvent } from "./sinks/port.ts";

/** Stripe accepts meter event timestamps at most this old (35 days). */
export const STRIPE_MAX_AGE_MS = 35 * 24 * 3_600_000;
/** …and at most this far ahead (5 minutes). */
export const STRIPE_MAX_AHEAD_MS = 5 * 60_000;
/** We send a future event only once it is this much inside Stripe's limit: clocks differ. */
export const FUTURE_SLACK_MS = 60_000;

/**
 * The oldest occurred_at (ms) pre-flight still sends at `now`: Stripe's 35 days, minus a margin
 * for the time a send takes and clock drift.
 */
export function oldestAccepted(now: Date, timestampMarginMs: number): number {
  return now.getTime() - STRIPE_MAX_AGE_MS + timestampMarginMs;
}

/** The worker settings pre-flight reads. */
export type PreflightSettings = Pick<
  Config["worker"],
  "timestampMarginMs" | "unlinkedHoldMs" | "dedupWindowMs" | "backoffMaxMs"
>;

/** The event fields pre-flight reads. */
export type PreflightEvent = Pick<
  ClaimedEvent,
  | "id"
  | "customerKey"
  | "eventName"
  | "value"
  | "occurredAt"
  | "receivedAt"
  | "firstSentAt"
  | "keyGeneration"
>;

/** Pre-flight's verdict: send now, wait (pending, with a reason), or fail (dead letter). */
export type Preflight =
  | { kind: "send"; outbound: OutboundEvent }
  | { kind: "wait"; reason: WaitReason; until: Date; message: string }
  | { kind: "fail"; code: DeadLetterCode; message: string };

/**
 * Checks, without calling Stripe, whether an event can be sent now. Ordered: the permanent
 * failures first (waiting cannot cure them), then the waits. Meter problems only ever wait:
 * they are meter scope, and failing every event of a misconfigured meter would be data loss.
 */
export function preflight(
  event: PreflightEvent,
  customer: LookupCustomer | undefined,
  meter: LookupMeter | undefined,
  now: Date,
  settings: PreflightSettings,
): Preflight {
  const t = now.getTime();
  // Rechecks of a waiting event happen at the backoff ceiling; linking a customer or
  // activating a meter wakes its events at once (outbox/wake.ts).
  const recheck = new Date(t + settings.backoffMaxMs);

  // Invariant 5: once the first send is older than the dedup window, never send again.
  if (event.firstSentAt && dedupWindowExpired(event.firstSentAt, now, settings)) {
    return {
      kind: "fail",
      code: "dedup_window_expired",
      message: dedupExpiredMessage(event.firstSentAt, settings.dedupWindowMs),
    };
  }

  const oldest = oldestAccepted(now, settings.timestampMarginMs);
  if (event.occurredAt.getTime() < oldest) {
    return {
      kind: "fail",
      code: "timestamp_too_old",
      message:
        `occurred_at ${event.occurredAt.toISOString()} is too old for Stripe, which accepts meter ` +
        `events of the past 35 days; with Meterline's ${minutes(settings.timestampMarginMs)}-minute ` +
        `margin the limit is now ${new Date(oldest).toISOString()}. Stripe can no longer bill it: ` +
        "bill the usage another way (e.g. an invoice item), then discard this event.",
    };
  }

  if (!customer) {
    return {
      kind: "fail",
      code: "customer_not_found",
      message:
        `customer "${event.customerKey}" is not known to Meterline. Create it with its Stripe ` +
        "customer id (POST /v1/customers), then retry this event.",
    };
  }
  if (customer.status === "deleted") {
    const when = customer.deletedAt ? ` on ${customer.deletedAt.toISOString()}` : "";
    return {
      kind: "fail",
      code: "customer_deleted",
      message:
        `customer "${event.customerKey}" was deleted in Meterline${when}, so its usage is no ` +
        "longer billed. If it should be, restore the customer and retry the event; otherwise " +
        "discard it.",
    };
  }
  if (customer.stripeCustomerId === null) {
    const deadline = event.receivedAt.getTime() + settings.unlinkedHoldMs;
    if (t >= deadline) {
      return {
        kind: "fail",
        code: "customer_unlinked",
        message:
          `customer "${event.customerKey}" still had no Stripe customer id ` +
          `${hours(settings.unlinkedHoldMs)} h after the event arrived ` +
          `(${event.receivedAt.toISOString()}). Link it to its Stripe customer ` +
          "(stripe_customer_id), then retry the event.",
      };
    }
    return {
      kind: "wait",
      reason: "customer_unlinked",
      until: new Date(Math.min(deadline, recheck.getTime())),
      message:
        `customer "${event.customerKey}" has no Stripe customer id yet. The event waits until ` +
        `the customer is linked (stripe_customer_id), at most until ${new Date(deadline).toISOString()}.`,
    };
  }

  if (!meter) {
    return {
      kind: "wait",
      reason: "meter_unknown",
      until: recheck,
      message:
        `no meter with event_name "${event.eventName}" is declared in Meterline. The event ` +
        "waits, nothing is lost: declare the meter (with its Stripe meter) and it is sent.",
    };
  }
  if (meter.status !== "active") {
    return {
      kind: "wait",
      reason: "meter_inactive",
      until: recheck,
      message:
        `meter "${event.eventName}" is inactive in Meterline. Its events wait, nothing is lost: ` +
        "reactivate the meter to send them.",
    };
  }

  // More than 5 minutes ahead: Stripe would refuse it. Wait until it is inside the limit.
  const latest = t + STRIPE_MAX_AHEAD_MS - FUTURE_SLACK_MS;
  if (event.occurredAt.getTime() > latest) {
    const until = new Date(event.occurredAt.getTime() - STRIPE_MAX_AHEAD_MS + FUTURE_SLACK_MS);
    return {
      kind: "wait",
      reason: "timestamp_in_future",
      until,
      message:
        `occurred_at ${event.occurredAt.toISOString()} is more than 5 minutes ahead, which ` +
        `Stripe refuses; the event waits until ${until.toISOString()}. If it should not be in ` +
        "the future, fix the producer's clock.",
    };
  }

  return {
    kind: "send",
    outbound: {
      id: event.id,
      identifier: identifierFor(event.id),
      eventName: event.eventName,
      stripeCustomerId: customer.stripeCustomerId,
      value: event.value,
      occurredAt: event.occurredAt,
      customerPayloadKey: meter.customerPayloadKey,
      valuePayloadKey: meter.valuePayloadKey,
      keyGeneration: event.keyGeneration,
    },
  };
}

function minutes(ms: number): number {
  return Math.round(ms / 60_000);
}

function hours(ms: number): number {
  return Math.round((ms / 3_600_000) * 10) / 10;
}
