import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { usageEvents } from "../db/schema/usage-events.ts";

/**
 * The heartbeat: extends the leases this worker still holds (queued or in flight), so a slow
 * Stripe call does not let another worker claim and send the same event. Returns how many.
 */
export async function extendLeases(
  db: Db,
  owner: string,
  ids: string[],
  leaseMs: number,
): Promise<number> {
  if (ids.length === 0) return 0;
  const extended = await db
    .update(usageEvents)
    .set({ leaseExpiresAt: sql`now() + ${leaseMs}::float8 * interval '1 millisecond'` })
    .where(
      and(
        inArray(usageEvents.id, ids),
        // Only leases still ours: one that expired and was taken by another worker stays theirs.
        eq(usageEvents.leaseOwner, owner),
        eq(usageEvents.status, "pending"),
      ),
    )
    .returning({ id: usageEvents.id });
  return extended.length;
}
