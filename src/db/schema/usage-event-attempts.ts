import { bigserial, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** One row per send attempt (and per pre-flight decision): the audit trail behind `trace`. */
export const usageEventAttempts = pgTable(
  "usage_event_attempts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    eventId: text("event_id").notNull(),
    /** The event's attempt number this row records (after counting, if it was counted). */
    attempt: integer("attempt").notNull(),
    worker: text("worker").notNull(),
    /** delivered | duplicate | retry | throttled | halted | rejected | gave_up | waiting | … */
    outcome: text("outcome").notNull(),
    httpStatus: integer("http_status"),
    stripeCode: text("stripe_code"),
    requestId: text("request_id"),
    message: text("message"),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
    finishedAt: timestamp("finished_at", { withTimezone: true }).notNull().defaultNow(),
  },
  // Trace reads every attempt of one event in order.
  (t) => [index("usage_event_attempts_event_idx").on(t.eventId, t.id)],
);

export type UsageEventAttempt = typeof usageEventAttempts.$inferSelect;
