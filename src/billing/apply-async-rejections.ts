import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { asyncRejections } from "../db/schema/async-rejections.ts";
import { stripeEvents } from "../db/schema/stripe-events.ts";
import { usageEvents } from "../db/schema/usage-events.ts";
import { type AsyncRejectOutcome, asyncReject } from "../outbox/async-reject.ts";
import type { AsyncReport } from "./async-rejections.ts";

/** What applying one Stripe event changed. */
export interface Applied extends AsyncRejectOutcome {
  /** The Stripe event was seen before: nothing was changed again. */
  duplicate: boolean;
  /** Identifiers whose rejection this Stripe event recorded first (a later one never replaces it). */
  recorded: string[];
}

const NOTHING: Omit<Applied, "duplicate"> = {
  recorded: [],
  failed: [],
  noted: [],
  unchanged: [],
  unknown: [],
};

/**
 * Records a Stripe event by id (a redelivery is a no-op), records each rejection it names by
 * identifier, and applies them to the events through the outbox's one transition
 * (outbox/async-reject.ts): Stripe accepted them with a 200 and then refused to count them, so
 * they are not billed whatever state they are in now. All in one transaction: the records and
 * their effects land together or not at all (a failure answers 500, and Stripe redelivers).
 *
 * Rejections are recorded by identifier even when no event has it. An identifier unknown to us is
 * not ours today, but it is harmless to keep, keeps the rule "by identifier" one statement with no
 * lookup before it, and stays right if the id shows up later: an outbox restored from a backup
 * taken before the event was ingested, with the producer sending it again, would otherwise resend
 * it, be answered "already exists", and count it reported though Stripe never counted it.
 */
export async function applyAsyncRejections(
  db: Db,
  stripeEvent: { id: string; type: string; payload: unknown },
  report: AsyncReport,
): Promise<Applied> {
  return db.transaction(async (tx) => {
    const [seen] = await tx
      .insert(stripeEvents)
      .values({ id: stripeEvent.id, type: stripeEvent.type, payload: stripeEvent.payload })
      .onConflictDoNothing({ target: stripeEvents.id })
      .returning({ id: stripeEvents.id });
    if (!seen) return { duplicate: true, ...NOTHING };
    if (report.named.length === 0) return { duplicate: false, ...NOTHING };

    // The first rejection of an identifier wins: it is the one settle and asyncReject apply, so
    // an event never shows one code while a later resend is failed with another.
    const recorded = await tx
      .insert(asyncRejections)
      .values(
        report.named.map((r) => ({
          identifier: r.identifier,
          code: r.code,
          message: r.message,
          stripeEventId: stripeEvent.id,
        })),
      )
      .onConflictDoNothing({ target: asyncRejections.identifier })
      .returning({ identifier: asyncRejections.identifier });
    const outcome = await asyncReject(
      tx,
      report.named.map((r) => r.identifier),
    );
    return { duplicate: false, recorded: recorded.map((r) => r.identifier), ...outcome };
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
