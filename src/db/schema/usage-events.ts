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
    /** The worker holding the event, while it holds it. No index names it (see the indexes). */
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: timestamp("lease_expires_at", { withTimezone: true }),
    /**
     * lease_owner again, for events of meters with a per-(customer, meter) concurrency rule (v1
     * meter events, usage records) and null for the v2 stream's: what usage_events_leased_idx
     * holds, so that leasing a stream event changes no indexed column (outbox/claim.ts).
     */
    pairOwner: text("pair_owner"),
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
    /**
     * The usage_event_requests row that is this event's delivery attempt, when the request's
     * events shared it; null otherwise (its attempt rows are its own). Set only while reported:
     * an asynchronous rejection copies the row into the event's own attempts and clears it.
     */
    deliveredBy: bigint("delivered_by", { mode: "number" }),
    reportedAt: timestamp("reported_at", { withTimezone: true }),
    /** When the event reached failed or discarded (dead-letter age). */
    failedAt: timestamp("failed_at", { withTimezone: true }),
  },
  (t) => [
    // The claim's hot path: due pending events in order. Partial, so that reported and failed
    // rows (the vast majority over time) cost the claim nothing: cost per event must not grow
    // with backlog. It names no lease column, so a claim that sets none of its columns is a HOT
    // update: leased stream events stay in it, and those a worker claims while it is the only
    // one alive (a claim skips the few in flight at the head of the queue). Leased events of the
    // meters with a per-(customer, meter) rule, claimed while another worker is alive
    // (pair_owner set, outbox/claim.ts pairOwner), move to usage_events_leased_idx instead: that
    // claim is no HOT update anyway, and it adds one entry, not two. No index names lease_owner,
    // lease_expires_at, claims or open_claims; expired leases are found through
    // usage_event_claims.
    index("usage_events_due_idx")
      .on(t.nextAttemptAt)
      .where(sql`${t.status} = 'pending' and ${t.pairOwner} is null`),
    // Leased events of meters with a per-(customer, meter) concurrency rule, by that pair: a
    // claim skips pairs another worker is sending (outbox/claim.ts, NOT EXISTS). Stream events
    // never enter it (pair_owner stays null), nor do a worker's while it is the only one alive:
    // their claims stay HOT.
    index("usage_events_leased_idx")
      .on(t.customerKey, t.eventName)
      .where(sql`${t.status} = 'pending' and ${t.pairOwner} is not null`),
    // Dead letters by code and age: the systemic revert (reporter path: one code, failed within
    // a window, outbox/revert-systemic.ts) and the operators' listings and actions by code.
    // Partial, so that reported rows (nearly every row, nearly every settle) never enter it: an
    // index over every status cost each claim and each settle a WAL record for nothing. Stats
    // read the whole table in one grouped scan anyway (ops/stats.ts).
    index("usage_events_dead_letter_idx")
      .on(t.lastErrorCode, t.failedAt)
      .where(sql`${t.status} = 'failed'`),
    // Operator queries by customer (cancel, dead letters, wake) and the usage-record check of one
    // (customer, meter)'s period (outbox/period-usage.ts), which must see every status. Retention
    // (outbox/retention.ts) finds one customer's old reported rows by the third column: an exact
    // range, without an index of its own (one more entry per settled event) and without ever
    // visiting the recent rows. occurred_at never changes, so no HOT update is lost to it.
    index("usage_events_customer_idx").on(t.customerKey, t.status, t.occurredAt),
    // Reported events by when: the dashboard's throughput (ops/throughput.ts) reads the last
    // hour's pages only. BRIN, a few pages for millions of rows: settle already changes indexed
    // columns (status), so it was no HOT update, and a BRIN entry costs it nothing
    // unless the event widens its page range's summary, which reports in time order rarely do.
    index("usage_events_reported_brin")
      .using("brin", t.reportedAt)
      .where(sql`${t.status} = 'reported'`),
  ],
);
// Storage: fillfactor 50, hand-written in drizzle/0006_narrow_outbox_writes.sql (drizzle cannot
// express it). A claim leases every row of a page at once (rows sit in queue order); with half
// of each page free, the claimed versions stay on their page, so a stream claim, mark-sent's
// first_sent_at and a heartbeat's renewed lease_expires_at (no index names them) are HOT
// updates: one WAL record each, no index entry. At 80 % most claimed versions moved to other
// pages and mark-sent stayed non-HOT (measured).

export type UsageEvent = typeof usageEvents.$inferSelect;
