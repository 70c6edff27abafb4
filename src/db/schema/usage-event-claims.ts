import { bigint, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * One row per claim (outbox/claim.ts): who leased which events, and when their leases could
 * first have expired. The rescue finds expired leases here, not through an index of
 * usage_events: no index of usage_events names the lease, so a claim changes no indexed column
 * of a stream event and leasing it is a HOT update (no index entry, one WAL record). A row is
 * read only once its time has passed, and is removed by a rescue once none of its events is
 * still leased to its owner (outbox/claim.ts, claimRescuesStatement): the table holds about a
 * lease's worth of claims.
 */
export const usageEventClaims = pgTable("usage_event_claims", {
  id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
  owner: text("owner").notNull(),
  /**
   * The claim's lease time: no lease it set can have expired before it. The heartbeat renews
   * the events' leases, not this: a row past it is only where to look.
   */
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  eventIds: text("event_ids").array().notNull(),
});
