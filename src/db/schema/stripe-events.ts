import { jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Every Stripe webhook or thin event received, by Stripe's id, so a redelivery is a no-op. */
export const stripeEvents = pgTable("stripe_events", {
  id: text("id").primaryKey(),
  type: text("type").notNull(),
  receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
  payload: jsonb("payload").notNull(),
});
