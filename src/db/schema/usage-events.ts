import { sql } from "drizzle-orm";
import { bigint, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export const eventStatuses = ["pending", "reported", "failed", "discarded"] as const;
export type EventStatus = (typeof eventStatuses)[number];

/**
 * The outbox. One row per accepted usage event; the reporter moves it to reported or failed.
 * "leased" is not a status: it is pending with an unexpired lease.
 */
export const usageEvents = pgTable(
  "usage_events",
  {
    /** The producer's unique id; the Stripe identifier is a pure function of it. */
    id: text("id").primaryKey(),
    customerKey: text("customer_key").notNull(),
    eventName: text("event_name").notNull(),
    /** Whole number ≥ 0, at most 2^53 − 1 so it survives JSON on every hop. */
    value: bigint("value", { mode: "number" }).notNull(),
    /** The event's own time: what Stripe is told, never the time of sending. */
    occurredAt: timestamp("occurred_at", { withTimezone: true }).notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
    status: text("status", { enum: eventStatuses }).notNull().default("pending"),
    /** Send attempts that reached an outcome counted against max attempts. */
    attempts: integer("attempts").notNull().default(0),
    /**
     * Every claim of the event, ever: it only grows, so the settle guard can compare it and a
     * stale settle from an older claim (even by the same owner) never matches again.
     */
    claims: integer("claims").notNull().default(0),
    /**
     * Claims since the last outcome or clean release: claims that ended with their worker gone
     * (SIGKILL, crash, lost lease). How a crash loop is seen; reset by every settle and release.
     */
    openClaims: integer("open_claims").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull().defaultNow(),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: timestamp("lease_expires_at", { withTimezone: true }),
    firstAttemptAt: timestamp("first_attempt_at", { withTimezone: true }),
    /**
     * Written BEFORE the event's first request leaves, and never cleared: from then on Stripe may
     * hold the event, whatever became of the answer (a SIGKILL, a shutdown abandon or a lost
     * lease records none). The dedup window is measured from it.
     */
    firstSentAt: timestamp("first_sent_at", { withTimezone: true }),
    /**
     * Usage records only: which Idempotency-Key the event is sent under (0: the first). Raised
     * when Stripe's totals prove a stored 5xx left the record unapplied, so the resend is not
     * answered with the same stored 5xx (sinks/usage-records.ts).
     */
    keyGeneration: integer("key_generation").notNull().default(0),
    /** First attempt whose outcome was ambiguous: after the dedup window it is never re-sent. */
    firstAmbiguousAt: timestamp("first_ambiguous_at", { withTimezone: true }),
    lastAttemptAt: timestamp("last_attempt_at", { withTimezone: true }),
    /** Why a pending event waits (customer_unlinked, meter_inactive, retry, …); null when it does not. */
    waitReason: text("wait_reason"),
    lastErrorCode: text("last_error_code"),
    lastErrorMessage: text("last_error_message"),
    lastHttpStatus: integer("last_http_status"),
    lastRequestId: text("last_request_id"),
    /** Request id of the Stripe call that delivered the event. */
    stripeRequestId: text("stripe_request_id"),
    reportedAt: timestamp("reported_at", { withTimezone: true }),
    /** When the event reached failed or discarded (dead-letter age). */
    failedAt: timestamp("failed_at", { withTimezone: true }),
  },
  (t) => [
    // The claim's hot path: due pending events in order. Partial, so that reported and failed rows
    // (the vast majority over time) cost the claim nothing: cost per event must not grow with backlog.
    index("usage_events_due_idx").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    // The claim's rescue path: leased pending events by lease expiry. Settles and releases clear
    // the lease, so only in-flight events (at most workers × batch) are in it, whatever the backlog.
    index("usage_events_lease_idx")
      .on(t.leaseExpiresAt)
      .where(sql`${t.status} = 'pending' and ${t.leaseExpiresAt} is not null`),
    // Suspects (claims ending with their worker gone): a handful of rows, found without scanning
    // the backlog, so a worker can tell cheaply whether one waits (outbox/claim.ts).
    index("usage_events_suspect_idx")
      .on(t.nextAttemptAt)
      .where(sql`${t.status} = 'pending' and ${t.openClaims} >= 2`),
    // Leased events by (customer, meter): only what is in flight is in it, so a claim can skip
    // pairs another worker is sending at a cost that does not grow with the backlog.
    index("usage_events_leased_pair_idx")
      .on(t.customerKey, t.eventName)
      .where(sql`${t.status} = 'pending' and ${t.leaseOwner} is not null`),
    // Dead-letter listing and stats by status and code.
    index("usage_events_status_code_idx").on(t.status, t.lastErrorCode),
    // Pre-flight and operator queries by customer.
    index("usage_events_customer_idx").on(t.customerKey, t.status),
  ],
);

export type UsageEvent = typeof usageEvents.$inferSelect;
