import { param, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { preparedRows } from "../db/prepared.ts";
import { stillPending } from "./by-id-guards.ts";
import { leaseEnd } from "./lease-sql.ts";

/**
 * The heartbeat: extends the leases this worker still holds (queued or in flight), so a slow
 * Stripe call does not let another worker claim and send the same event. Returns how many.
 * One prepared statement whatever the number of ids (they go as one array parameter).
 */
export async function extendLeases(
  db: Db,
  owner: string,
  ids: string[],
  leaseMs: number,
): Promise<number> {
  if (ids.length === 0) return 0;
  const extended = await preparedRows<{ id: string }>(
    db,
    "meterline_extend_leases",
    extendLeasesStatement(owner, ids, leaseMs),
  );
  return extended.length;
}

/** extendLeases's one statement (exported so that a test can read its plan). */
export function extendLeasesStatement(owner: string, ids: string[], leaseMs: number): SQL {
  return sql`
    update usage_events as e set
      lease_expires_at = ${leaseEnd(leaseMs)}
    -- One array parameter (param(): a bare array would become a list, a new text per size).
    where e.id = any(${param(ids)}::text[])
      -- Only leases still ours: one that expired and was taken by another worker stays theirs.
      and e.lease_owner = ${owner}
      and ${stillPending}
    returning e.id`;
}
