import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import { claimRefRows, stillPending } from "./by-id-guards.ts";
import { leaseCleared } from "./lease-sql.ts";
import type { WaitReason } from "./reasons.ts";

/** An event to give back, with the claim it was leased by. */
export interface LeaseRef {
  id: string;
  claims: number;
}

/** How to give events back. */
export interface ReleaseOptions {
  /** Due again after this long (database clock); omitted keeps next_attempt_at, so its place. */
  delayMs?: number;
  /** Shown while it waits (e.g. account_halted); omitted keeps the current one. */
  waitReason?: WaitReason;
}

/**
 * Gives back leases of events this worker claimed but never sent (shutdown, account halt), in
 * one statement. No attempt is counted and no attempt row is written: nothing happened to them.
 * Returns how many were released.
 */
export async function release(
  db: Db,
  owner: string,
  events: LeaseRef[],
  { delayMs, waitReason }: ReleaseOptions = {},
): Promise<number> {
  if (events.length === 0) return 0;
  const released = await rows<{ id: string }>(
    db,
    releaseStatement(owner, events, { delayMs, waitReason }),
  );
  return released.length;
}

/** release's one statement (exported so that a test can read its plan). */
export function releaseStatement(
  owner: string,
  events: LeaseRef[],
  { delayMs, waitReason }: ReleaseOptions = {},
): SQL {
  const delay = delayMs ?? null;
  return sql`
    update usage_events as e set
      ${leaseCleared},
      -- A clean end of the claim, not a crash: the open claims start again from 0.
      open_claims = 0,
      next_attempt_at = case when ${delay}::float8 is null then e.next_attempt_at
        else now() + ${delay}::float8 * interval '1 millisecond' end,
      wait_reason = coalesce(${waitReason ?? null}::text, e.wait_reason)
    from ${claimRefRows(events)}
    where e.id = r.id
      -- Only what is still ours from that very claim and still pending: after a lease expired,
      -- another worker's lease (or outcome) must not be touched.
      and e.lease_owner = ${owner}
      and e.claims = r.claims
      and ${stillPending}
    returning e.id`;
}
