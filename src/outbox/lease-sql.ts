import { type SQL, sql } from "drizzle-orm";

/**
 * What ending an event's lease writes (SET items of an update of usage_events): the owner, its
 * time, and pair_owner with them, so that a v1 event leaves usage_events_leased_idx and goes
 * back to the due index. Every statement that ends a lease (an outcome, a release, a person's
 * action) writes this.
 */
export const leaseCleared = sql`lease_owner = null,
      lease_expires_at = null,
      pair_owner = null`;

/** When a lease taken (or renewed) now ends, by the database's clock. */
export function leaseEnd(leaseMs: number): SQL {
  return sql`now() + ${leaseMs}::float8 * interval '1 millisecond'`;
}
