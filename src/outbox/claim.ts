import { and, asc, eq, inArray, isNull, lt, lte, or, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { usageEvents } from "../db/schema/usage-events.ts";

/** One leased event, as the worker needs it: what to send and what the settle guard checks. */
export interface ClaimedEvent {
  id: string;
  customerKey: string;
  eventName: string;
  value: number;
  occurredAt: Date;
  receivedAt: Date;
  /** Counted attempts when claimed: the settle guard requires it unchanged. */
  attempts: number;
  /** Claims including this one: the settle guard requires it unchanged too. */
  claims: number;
  firstAmbiguousAt: Date | null;
  /** Why it was waiting, if it was: a pre-flight that finds the same reason adds no audit row. */
  waitReason: string | null;
}

/** A claimed batch, and the database's clock at the claim (null when nothing was due). */
export interface Claim {
  events: ClaimedEvent[];
  dbNow: Date | null;
}

/** Who claims, for how long, and how many. */
export interface ClaimOptions {
  owner: string;
  leaseMs: number;
  limit: number;
}

/**
 * Leases up to `limit` due events to `owner`, in ONE statement, so that no transaction is ever
 * held open while the worker talks to Stripe: the lease itself is the lock from here on.
 */
export async function claim(db: Db, { owner, leaseMs, limit }: ClaimOptions): Promise<Claim> {
  const due = db
    .select({ id: usageEvents.id })
    .from(usageEvents)
    .where(
      and(
        // Only pending events are work; reported, failed and discarded are never claimed again.
        eq(usageEvents.status, "pending"),
        // Due by the DATABASE's clock, so workers on hosts with skewed clocks agree.
        lte(usageEvents.nextAttemptAt, sql`now()`),
        // Not leased, or leased by a worker that stopped renewing (SIGKILL, partition): an
        // expired lease is claimable again, which is how a dead worker's events are rescued.
        or(isNull(usageEvents.leaseExpiresAt), lt(usageEvents.leaseExpiresAt, sql`now()`)),
      ),
    )
    // Oldest due first: a waiting or retried event goes behind what is due before it, so a
    // poison event delays the others by at most one claim cycle.
    // usage_events_due_idx (next_attempt_at WHERE status = 'pending') serves this order.
    .orderBy(asc(usageEvents.nextAttemptAt))
    .limit(limit)
    // Concurrent workers skip each other's rows instead of queueing on them, and never take
    // the same row: the row lock lasts until this statement's implicit transaction ends.
    .for("update", { skipLocked: true });

  const rows = await db
    .update(usageEvents)
    .set({
      leaseOwner: owner,
      leaseExpiresAt: sql`now() + ${leaseMs}::float8 * interval '1 millisecond'`,
      // Counts claims: an event claimed again and again without an outcome crashes its worker.
      claims: sql`${usageEvents.claims} + 1`,
    })
    .where(inArray(usageEvents.id, due))
    .returning({
      id: usageEvents.id,
      customerKey: usageEvents.customerKey,
      eventName: usageEvents.eventName,
      value: usageEvents.value,
      occurredAt: usageEvents.occurredAt,
      receivedAt: usageEvents.receivedAt,
      attempts: usageEvents.attempts,
      claims: usageEvents.claims,
      firstAmbiguousAt: usageEvents.firstAmbiguousAt,
      waitReason: usageEvents.waitReason,
      nextAttemptAt: usageEvents.nextAttemptAt,
      // The database's clock, in ms: the worker judges time by it, like the lease does.
      dbNowMs: sql<number>`(extract(epoch from now()) * 1000)::float8`.mapWith(Number),
    });

  // UPDATE … RETURNING has no order; keep the queue's order for the send queue.
  rows.sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime());
  const first = rows[0];
  return {
    dbNow: first ? new Date(first.dbNowMs) : null,
    events: rows.map(({ dbNowMs: _n, nextAttemptAt: _a, ...event }) => event),
  };
}
