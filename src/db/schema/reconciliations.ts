import { bigint, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** One group that does not match, as a reconciliation stores and shows it (reconcile/drift.ts). */
export interface DriftRow {
  customer: string;
  stripe_customer_id: string;
  event_name: string;
  stripe_meter_id: string;
  /** The hour (UTC) the events' own timestamps fall in, ISO 8601. */
  hour: string;
  meterline: number;
  stripe: number;
  /** stripe − meterline: negative when Stripe counted less than Meterline reported. */
  difference: number;
  /** Reported events of the group: how many, and the first ids (the events behind the difference). */
  events: number;
  event_ids: string[];
  /**
   * Legacy usage records only (Stripe sums them per billing period, per subscription item): the
   * item, and the period's end (`hour` is then the period's start). Absent for meter events.
   */
  subscription_item?: string;
  period_end?: string;
}

/**
 * Reconciliation runs: what Meterline reported compared with Stripe's own totals, per customer ×
 * meter × hour, over a range. The latest row is what `meterline reconcile`, the dashboard and
 * /metrics show; older rows are the history of drift.
 */
export const reconciliations = pgTable("reconciliations", {
  id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
  startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
  finishedAt: timestamp("finished_at", { withTimezone: true }),
  /** The events' timestamps compared: [range_start, range_end), whole hours. */
  rangeStart: timestamp("range_start", { withTimezone: true }).notNull(),
  rangeEnd: timestamp("range_end", { withTimezone: true }).notNull(),
  /** Who ran it: a worker id, or "api" for a request. */
  ranBy: text("ran_by").notNull(),
  /** customer × meter × hour groups compared, and how many differ. */
  groups: integer("groups").notNull().default(0),
  driftGroups: integer("drift_groups").notNull().default(0),
  /** Groups left out: an event of theirs was reported too recently for Stripe's totals to show. */
  settlingGroups: integer("settling_groups").notNull().default(0),
  meterlineTotal: bigint("meterline_total", { mode: "number" }).notNull().default(0),
  stripeTotal: bigint("stripe_total", { mode: "number" }).notNull().default(0),
  drift: jsonb("drift").$type<DriftRow[]>().notNull().default([]),
  /**
   * The sum of the differing groups' |difference|, kept with the run: the metrics read it on
   * every scrape, and summing it from `drift` walked every difference each time.
   */
  driftTotal: bigint("drift_total", { mode: "number" }).notNull().default(0),
  /** Why the run could not finish (Stripe unreachable, …); null when it did. */
  error: text("error"),
});

export type ReconciliationRow = typeof reconciliations.$inferSelect;
