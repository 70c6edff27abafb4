import { bigint, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Retention sweeps (outbox/retention.ts): who ran one, when, what it removed, and its last
 * batch, which tells the other workers it is still alive. One sweep at a time across all workers.
 */
export const retentionRuns = pgTable("retention_runs", {
  id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
  ranBy: text("ran_by").notNull(),
  startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
  /** Written after each batch: a sweep silent for longer than a few minutes is gone. */
  lastBatchAt: timestamp("last_batch_at", { withTimezone: true }).notNull().defaultNow(),
  finishedAt: timestamp("finished_at", { withTimezone: true }),
  /** Events older than this were eligible (now − METERLINE_RETENTION_DAYS). */
  cutoff: timestamp("cutoff", { withTimezone: true }).notNull(),
  removedEvents: bigint("removed_events", { mode: "number" }).notNull().default(0),
  removedAttempts: bigint("removed_attempts", { mode: "number" }).notNull().default(0),
  /** Why it stopped early (the database, a shutdown); null when it finished. */
  error: text("error"),
});

export type RetentionRunRow = typeof retentionRuns.$inferSelect;
