import { pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Stripe's asynchronous rejections, kept by identifier (= the event id): Stripe answered 200,
 * then refused to count the event. A rejection decides the event's fate whatever state it is in
 * when the thin event arrives, and whatever comes later: a settle that would mark the event
 * reported (a resend answered "already exists") fails it instead (outbox/settle.ts).
 */
export const asyncRejections = pgTable("async_rejections", {
  /** The meter event's identifier, which is the usage event's id. */
  identifier: text("identifier").primaryKey(),
  /** Stripe's error code (meter_event_customer_not_found, archived_meter, …). */
  code: text("code").notNull(),
  /** Stripe's sample error message, with the thin event that carried it. */
  message: text("message").notNull(),
  stripeEventId: text("stripe_event_id").notNull(),
  receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
});

export type AsyncRejection = typeof asyncRejections.$inferSelect;
