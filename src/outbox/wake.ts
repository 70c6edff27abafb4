import { and, eq, gt, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { usageEvents } from "../db/schema/usage-events.ts";
import { type WaitReason, waitsOfScope } from "./reasons.ts";

/** Every reason pre-flight parks an event for (src/reporter/preflight.ts); a retry's backoff is not one. */
export const PREFLIGHT_WAITS: WaitReason[] = [
  "customer_unlinked",
  "subscription_item_missing",
  "meter_unknown",
  "meter_inactive",
  "timestamp_in_future",
];

/**
 * Every meter-scope wait (reasons.ts): pre-flight's, the worker's (no sink for the meter's
 * delivery mode) and a Stripe rejection about the meter (parked). Wake these when a meter is
 * declared, reactivated or fixed.
 */
export const METER_WAITS: WaitReason[] = waitsOfScope("meter");

/**
 * Makes pending events that wait on a customer or a meter due now, so that a change an operator
 * just made (a customer linked or deleted, a meter declared or reactivated) takes effect on the
 * next claim instead of after the wait pre-flight had scheduled. Only waits listed in `reasons`
 * are cut short: a retry's backoff is left alone (it protects Stripe), and leased events are left
 * to their worker. Returns how many events it woke.
 */
export async function wakeWaiting(
  db: Db,
  target: { customerKey: string } | { eventName: string },
  reasons: WaitReason[],
): Promise<number> {
  const who: SQL =
    "customerKey" in target
      ? eq(usageEvents.customerKey, target.customerKey)
      : eq(usageEvents.eventName, target.eventName);
  const woken = await db
    .update(usageEvents)
    .set({ nextAttemptAt: sql`now()` })
    .where(
      and(
        who,
        eq(usageEvents.status, "pending"),
        gt(usageEvents.nextAttemptAt, sql`now()`),
        inArray(usageEvents.waitReason, reasons),
        // Unleased. An expired lease needs no waking: a leased event was due when claimed, so
        // next_attempt_at > now() already leaves it out.
        isNull(usageEvents.leaseOwner),
      ),
    )
    .returning({ id: usageEvents.id });
  return woken.length;
}
