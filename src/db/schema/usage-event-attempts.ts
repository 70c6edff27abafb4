import { bigserial, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * What an attempt row says of its attempt, whoever it is for: the columns usage_event_attempts
 * (one event) and usage_event_requests (a request's events, delivered together) share, so that
 * one reads as the other (outbox/attempt-history.ts). New builders at each call: a table builds
 * its own columns from them.
 */
export function attemptRecordColumns() {
  return {
    worker: text("worker").notNull(),
    /** delivered | duplicate | retry | throttled | halted | rejected | gave_up | waiting | … */
    outcome: text("outcome").notNull(),
    httpStatus: integer("http_status"),
    stripeCode: text("stripe_code"),
    requestId: text("request_id"),
    message: text("message"),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
    finishedAt: timestamp("finished_at", { withTimezone: true }).notNull().defaultNow(),
  };
}

/** One row per send attempt (and per pre-flight decision): the audit trail behind `trace`. */
export const usageEventAttempts = pgTable(
  "usage_event_attempts",
  {
    /** Insertion order, within the event: trace lists an event's attempts by it. */
    id: bigserial("id", { mode: "number" }).notNull(),
    eventId: text("event_id").notNull(),
    /** The event's attempt number this row records (after counting, if it was counted). */
    attempt: integer("attempt").notNull(),
    ...attemptRecordColumns(),
  },
  // ONE index, which is also the key: trace reads every attempt of one event in order, and no
  // query looks an attempt up by id alone. A second index (id alone) cost every settled event a
  // WAL record and ~80 bytes for nothing.
  (t) => [primaryKey({ name: "usage_event_attempts_pkey", columns: [t.eventId, t.id] })],
);

export type UsageEventAttempt = typeof usageEventAttempts.$inferSelect;
