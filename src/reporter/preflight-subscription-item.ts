import type { ClaimedEvent } from "../outbox/claim.ts";
import type { Preflight, PreflightSettings } from "./preflight.ts";
import type { OutboundEvent } from "./sinks/port.ts";

/** Why a usage_records event waits (or, past the hold limit, fails): no item is set. */
export const SUBSCRIPTION_ITEM_MISSING = "subscription_item_missing";

/**
 * The usage_records part of pre-flight, after the common checks passed: legacy usage records
 * are filed on a subscription item, so without one for this customer × meter the event waits
 * (an operator sets it with PUT /v1/customers/:key/subscription_items/:event_name), like an
 * unlinked customer and with the same hold limit, then fails. Pure.
 */
export function preflightSubscriptionItem(
  event: Pick<ClaimedEvent, "customerKey" | "eventName" | "receivedAt">,
  outbound: OutboundEvent,
  subscriptionItemId: string | undefined,
  now: Date,
  settings: Pick<PreflightSettings, "unlinkedHoldMs" | "backoffMaxMs">,
): Preflight {
  if (subscriptionItemId !== undefined) {
    return { kind: "send", outbound: { ...outbound, subscriptionItemId } };
  }
  const t = now.getTime();
  const deadline = event.receivedAt.getTime() + settings.unlinkedHoldMs;
  const put = `PUT /v1/customers/${event.customerKey}/subscription_items/${event.eventName} {"subscription_item_id": "si_…"}`;
  if (t >= deadline) {
    return {
      kind: "fail",
      code: SUBSCRIPTION_ITEM_MISSING,
      message:
        `meter "${event.eventName}" reports legacy usage records, and customer ` +
        `"${event.customerKey}" still had no subscription item for it ` +
        `${Math.round((settings.unlinkedHoldMs / 3_600_000) * 10) / 10} h after the event ` +
        `arrived (${event.receivedAt.toISOString()}). Set the item (${put}), then retry the event.`,
    };
  }
  return {
    kind: "wait",
    reason: SUBSCRIPTION_ITEM_MISSING,
    until: new Date(Math.min(deadline, t + settings.backoffMaxMs)),
    message:
      `meter "${event.eventName}" reports legacy usage records, which Stripe files on a ` +
      `subscription item, and customer "${event.customerKey}" has none set for it. The event ` +
      `waits, at most until ${new Date(deadline).toISOString()}: set the item with ${put}.`,
  };
}
