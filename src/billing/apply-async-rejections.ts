import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { stripeEvents } from "../db/schema/stripe-events.ts";
import { usageEventAttempts } from "../db/schema/usage-event-attempts.ts";
import { usageEvents } from "../db/schema/usage-events.ts";
import type { AsyncReport } from "./async-rejections.ts";

/** What applying one Stripe event changed. */
export interface Applied {
  /** The Stripe event was seen before: nothing was changed again. */
  duplicate: boolean;
  /** Reported events moved to failed. */
  failed: string[];
}

/**
 * Records a Stripe event by id (a redelivery is a no-op) and moves the reported events it names
 * to failed, with Stripe's code and message: Stripe accepted them with a 200 and then refused to
 * count them, so they are not billed and a person must act. All in one transaction: the record
 * and its effects land together or not at all.
 */
export async function applyAsyncRejections(
  db: Db,
  stripeEvent: { id: string; type: string; payload: unknown },
  report: AsyncReport,
): Promise<Applied> {
  return db.transaction(async (tx) => {
    const [recorded] = await tx
      .insert(stripeEvents)
      .values({ id: stripeEvent.id, type: stripeEvent.type, payload: stripeEvent.payload })
      .onConflictDoNothing({ target: stripeEvents.id })
      .returning({ id: stripeEvents.id });
    if (!recorded) return { duplicate: true, failed: [] };

    const failed: string[] = [];
    for (const rejection of report.named) {
      const message =
        `Stripe accepted this event, then rejected it in asynchronous validation ` +
        `(${stripeEvent.type} ${stripeEvent.id}): ${rejection.message}. It is not billed: fix the ` +
        "cause (customer, meter or value), then retry the event.";
      // Only a reported event moves: a pending one is still the reporter's, a failed one already
      // carries a reason, and an unknown identifier is not ours.
      const [row] = await tx
        .update(usageEvents)
        .set({
          status: "failed",
          lastErrorCode: rejection.code,
          lastErrorMessage: message,
          failedAt: sql`now()`,
        })
        .where(and(eq(usageEvents.id, rejection.identifier), eq(usageEvents.status, "reported")))
        .returning({ id: usageEvents.id, attempts: usageEvents.attempts });
      if (!row) continue;
      failed.push(row.id);
      await tx.insert(usageEventAttempts).values({
        eventId: row.id,
        attempt: row.attempts,
        worker: "stripe",
        outcome: "async_rejected",
        stripeCode: rejection.code,
        message,
        startedAt: sql`now()`,
      });
    }
    return { duplicate: false, failed };
  });
}

/** The ids among `ids` that are stored as reported (for tests and reconciliation). */
export async function reportedAmong(db: Db, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const found = await db
    .select({ id: usageEvents.id })
    .from(usageEvents)
    .where(and(inArray(usageEvents.id, ids), eq(usageEvents.status, "reported")));
  return found.map((r) => r.id);
}
