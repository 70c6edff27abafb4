import { pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The Stripe subscription item a customer's usage of one meter is reported on, for meters in
 * the usage_records delivery mode: legacy usage records name an item, not a customer or meter.
 */
export const subscriptionItems = pgTable(
  "subscription_items",
  {
    /** The platform's customer key (customers.key). */
    customerKey: text("customer_key").notNull(),
    /** The meter's event_name (meters.event_name). */
    eventName: text("event_name").notNull(),
    /** Stripe's subscription item id (si_…). */
    subscriptionItemId: text("subscription_item_id").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  // One item per customer × meter; pre-flight loads a batch's items by these two columns.
  (t) => [primaryKey({ columns: [t.customerKey, t.eventName] })],
);

/** One row of subscription_items. */
export type SubscriptionItem = typeof subscriptionItems.$inferSelect;
