import { sql } from "drizzle-orm";
import { pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

/** The platform's customers: producers send `key`; Stripe knows `stripe_customer_id`. */
export const customers = pgTable(
  "customers",
  {
    /** The platform's own customer key, what producers put in `customer`. */
    key: text("key").primaryKey(),
    /** Stripe's customer id; null until linked (events then wait in pre-flight). */
    stripeCustomerId: text("stripe_customer_id"),
    /** active | deleted. A deleted customer's pending events fail pre-flight. */
    status: text("status", { enum: ["active", "deleted"] })
      .notNull()
      .default("active"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [
    // Looked up both ways: by key (primary key) and by Stripe id (webhooks, GET ?stripe_customer_id=).
    // Partial so that any number of customers may be unlinked.
    uniqueIndex("customers_stripe_customer_id_key")
      .on(t.stripeCustomerId)
      .where(sql`${t.stripeCustomerId} is not null`),
  ],
);

export type Customer = typeof customers.$inferSelect;
