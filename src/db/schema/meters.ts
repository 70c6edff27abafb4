import { pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Delivery modes: which Stripe API a meter's events go through. */
export const deliveryModes = ["meter_events", "meter_stream", "usage_records"] as const;
export type DeliveryMode = (typeof deliveryModes)[number];

/** Meters the platform declared: producers send `event_name`; Stripe knows the meter id. */
export const meters = pgTable("meters", {
  /** What producers send in `event_name`; also the Stripe meter's event_name. */
  eventName: text("event_name").primaryKey(),
  /** Stripe's meter id (mtr_…); null when declared without one. */
  stripeMeterId: text("stripe_meter_id"),
  /** active | inactive. An inactive meter parks its events (meter scope), never fails them. */
  status: text("status", { enum: ["active", "inactive"] })
    .notNull()
    .default("active"),
  deliveryMode: text("delivery_mode", { enum: deliveryModes }).notNull().default("meter_events"),
  /** Payload key that carries the Stripe customer id (Stripe's default: stripe_customer_id). */
  customerPayloadKey: text("customer_payload_key").notNull().default("stripe_customer_id"),
  /** Payload key that carries the value (Stripe's default: value). */
  valuePayloadKey: text("value_payload_key").notNull().default("value"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

export type Meter = typeof meters.$inferSelect;
