import { pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Open circuits of the reporter: a scope (the Stripe account, or a systemic rejection code) in
 * which NO worker sends, whatever process or host it runs on. A row exists only while the
 * circuit is open; the worker whose probe succeeds deletes it. Tiny (a handful of rows at
 * most), so every worker reads the whole table once per poll.
 */
export const reporterCircuits = pgTable("reporter_circuits", {
  /** "account" (401/403, account-level codes) or "systemic:<stripe code>". */
  scope: text("scope").primaryKey(),
  /** Why it is open, for /readyz, the logs and the dashboard: rule, Stripe's answer, advice. */
  reason: text("reason").notNull(),
  /** Who opened it (worker id), and when: kept when other workers hit the same cause. */
  openedBy: text("opened_by").notNull(),
  openedAt: timestamp("opened_at", { withTimezone: true }).notNull().defaultNow(),
  /**
   * When the next probe may run. A worker takes the probe with a guarded UPDATE that moves this
   * forward (where next_probe_at <= now()), so one worker at a time probes, once per interval.
   */
  nextProbeAt: timestamp("next_probe_at", { withTimezone: true }).notNull(),
  /** The worker that took the last probe. */
  probeOwner: text("probe_owner"),
});

/** One open circuit. */
export type ReporterCircuit = typeof reporterCircuits.$inferSelect;
