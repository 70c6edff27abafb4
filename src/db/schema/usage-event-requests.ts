import { bigint, integer, pgTable } from "drizzle-orm/pg-core";
import { attemptRecordColumns } from "./usage-event-attempts.ts";

/**
 * One audit row for a request whose events were all delivered together (a v2 stream request's
 * up to 100): what usage_event_attempts would hold once per event, held once. Each delivered
 * event names its row (usage_events.delivered_by), and trace shows the row as that event's
 * attempt (outbox/attempt-history.ts), so the history reads as before. Every other outcome, and
 * a request of one event, keeps its row per event in usage_event_attempts.
 *
 * Why: a row and a key entry per delivered event were a third of a stream event's WAL records
 * and of its settle's server time, for the same worker, answer and times repeated.
 */
export const usageEventRequests = pgTable("usage_event_requests", {
  /**
   * From usage_event_attempts's own sequence (settle draws it), so an event's attempt rows and
   * its request row sort together in the order they were written.
   */
  id: bigint("id", { mode: "number" }).primaryKey(),
  ...attemptRecordColumns(),
  /**
   * Events that name this row now. Retention and an asynchronous rejection take events away
   * (outbox/request-rows.ts); the row goes with the last of them.
   */
  events: integer("events").notNull(),
});

export type UsageEventRequest = typeof usageEventRequests.$inferSelect;
