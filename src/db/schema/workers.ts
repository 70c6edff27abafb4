import { index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Reporter worker processes, one row each, kept alive by a heartbeat: who is alive (liveness,
 * readiness), each live worker's share of the account's rate limit, and, when a lease expires,
 * whether its worker is gone (trace shows such a claim).
 */
export const workers = pgTable(
  "workers",
  {
    /** METERLINE_WORKER_ID: the lease owner and attempt rows' worker. */
    id: text("id").primaryKey(),
    host: text("host").notNull(),
    pid: integer("pid").notNull(),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    /** Database clock of the last heartbeat: older than a few lease periods means gone. */
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull().defaultNow(),
    /** Requests to Stripe in flight at the last heartbeat. */
    inFlight: integer("in_flight").notNull().default(0),
    /** Set by an orderly stop; null while running or after a crash. */
    stoppedAt: timestamp("stopped_at", { withTimezone: true }),
  },
  (t) => [
    // Who is alive, by last heartbeat: every claim asks whether another worker is (outbox/claim.ts
    // pairOwner). Rows are never deleted and a restarted worker's default id (host-pid) is new,
    // so over months of deploys most rows are long gone: the index reads only the recent ones.
    index("workers_last_seen_idx").on(t.lastSeenAt),
  ],
);

export type WorkerRow = typeof workers.$inferSelect;
