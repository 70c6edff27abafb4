import { bigint, pgTable, primaryKey, smallint, text, timestamp } from "drizzle-orm/pg-core";

/** What a row of usage_event_counts counts. */
export const countedStatuses = [
  "reported",
  "discarded",
  "removed_reported",
  "removed_discarded",
] as const;
export type CountedStatus = (typeof countedStatuses)[number];

/**
 * Running counts of the terminal statuses, so that `stats` and /metrics never count the reported
 * rows (the bulk of usage_events) one by one. Every outbox statement that moves an event into or
 * out of `reported` or `discarded` adds its net change here in the same statement
 * (outbox/event-counts.ts), by the UTC hour of the change; retention adds what it removed
 * (removed_*) and leaves `reported` and `discarded` alone, so they stay all-time figures.
 * Pending and failed rows are few and counted through their partial indexes instead.
 */
export const usageEventCounts = pgTable(
  "usage_event_counts",
  {
    /** The hour (UTC) the changes happened in. */
    hour: timestamp("hour", { withTimezone: true }).notNull(),
    status: text("status", { enum: countedStatuses }).notNull(),
    /**
     * The writing connection's pid modulo a few: concurrent settles of different workers then
     * rarely wait for each other's row lock until commit. Readers sum over it.
     */
    slot: smallint("slot").notNull(),
    n: bigint("n", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ name: "usage_event_counts_pkey", columns: [t.hour, t.status, t.slot] })],
);
