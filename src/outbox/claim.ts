import { and, asc, eq, inArray, isNotNull, isNull, lt, lte, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { usageEvents } from "../db/schema/usage-events.ts";
import { CLAIM_EPOCH, SUSPECT_OPEN_CLAIMS } from "./claim-epoch.ts";

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
  /**
   * Claims including this one: the settle guard requires it unchanged too. Packed as
   * outcomes · 1000 + open claims (claim-epoch.ts).
   */
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
  /**
   * Claim suspects (events whose last claims ended with their worker gone) instead of healthy
   * events. Healthy claims never take a suspect: batched with others, a poison event that kills
   * its worker would count the claims of its batch-mates up to crash_loop too.
   */
  suspects?: boolean;
}

/**
 * Leases up to `limit` due events to `owner`: rescues first, then the queue, each in ONE
 * statement, so that no transaction is ever held open while the worker talks to Stripe: the
 * lease itself is the lock from here on.
 */
export async function claim(
  db: Db,
  { owner, leaseMs, limit, suspects = false }: ClaimOptions,
): Promise<Claim> {
  // Rescues first: events whose worker stopped renewing their lease (SIGKILL, partition) go
  // ahead of the backlog. Ordered by due time alone, a rescued retry (due later than a large
  // backlog inserted before it) would wait behind the whole queue, not lease + poll.
  const rescued = await claimWhere(db, owner, leaseMs, limit, suspects, "rescue");
  const rest =
    rescued.length < limit
      ? await claimWhere(db, owner, leaseMs, limit - rescued.length, suspects, "due")
      : [];
  const rows = [...rescued, ...rest];
  // UPDATE … RETURNING has no order; keep the queue's order (rescues first) for the send queue.
  const rescuedIds = new Set(rescued.map((r) => r.id));
  rows.sort(
    (a, b) =>
      Number(rescuedIds.has(b.id)) - Number(rescuedIds.has(a.id)) ||
      a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime(),
  );
  const first = rows[0];
  return {
    dbNow: first ? new Date(first.dbNowMs) : null,
    events: rows.map(({ dbNowMs: _n, nextAttemptAt: _a, ...event }) => event),
  };
}

/**
 * One claiming statement. "rescue": pending events whose lease expired unsettled, found through
 * usage_events_lease_idx (only leased rows are in it, so it stays small whatever the backlog).
 * "due": unleased due events, oldest due first, served by usage_events_due_idx.
 */
async function claimWhere(
  db: Db,
  owner: string,
  leaseMs: number,
  limit: number,
  suspects: boolean,
  kind: "rescue" | "due",
) {
  const open = sql`${usageEvents.claims} % ${sql.raw(String(CLAIM_EPOCH))}`;
  const due = db
    .select({ id: usageEvents.id })
    .from(usageEvents)
    .where(
      and(
        // Only pending events are work; reported, failed and discarded are never claimed again.
        eq(usageEvents.status, "pending"),
        // Due by the DATABASE's clock, so workers on hosts with skewed clocks agree.
        lte(usageEvents.nextAttemptAt, sql`now()`),
        // Settles and releases clear the lease, so an expired one means its worker stopped
        // renewing it (SIGKILL, partition): claimable again, which is how its events are rescued.
        kind === "rescue"
          ? and(isNotNull(usageEvents.leaseExpiresAt), lt(usageEvents.leaseExpiresAt, sql`now()`))
          : isNull(usageEvents.leaseExpiresAt),
        // Suspects apart (see ClaimOptions.suspects). A worker killed once (deploy, OOM, SIGKILL)
        // leaves 1 open claim: its events are rescued by ordinary batch claims, at full speed.
        suspects ? sql`${open} >= ${SUSPECT_OPEN_CLAIMS}` : sql`${open} < ${SUSPECT_OPEN_CLAIMS}`,
      ),
    )
    // Oldest due first within each kind: a waiting or retried event goes behind what is due
    // before it, so a poison event delays the others by at most one claim cycle. (The rescue set
    // is only the leased rows, so sorting it costs little; one batch's leases expire together.)
    .orderBy(asc(usageEvents.nextAttemptAt))
    .limit(limit)
    // Concurrent workers skip each other's rows instead of queueing on them, and never take
    // the same row: the row lock lasts until this statement's implicit transaction ends.
    .for("update", { skipLocked: true });

  return db
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
}
