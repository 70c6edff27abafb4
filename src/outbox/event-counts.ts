import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import type { CountedStatus } from "../db/schema/usage-event-counts.ts";

/** Slots of a count's hour: concurrent writers spread over them (usage-event-counts.ts). */
const SLOTS = 8;

/**
 * A CTE body (for `name as (…)`) that adds `delta` to `status`'s count of the current hour,
 * in the statement that made the change. `counted` is a query of one bigint column `n`: how
 * many events it changed. Nothing is written when none changed. The reporter's settles count
 * in slots of their own ("hot"): a settle then never waits for an operator's or billing sync's
 * transaction to commit its count.
 */
export function addToCount(
  status: CountedStatus,
  counted: SQL,
  sign: 1 | -1 = 1,
  lane: "hot" | "cold" = "cold",
): SQL {
  const base = lane === "hot" ? 0 : SLOTS;
  return sql`insert into usage_event_counts (hour, status, slot, n)
    select date_trunc('hour', now()), ${status}::text, ${base}::int + pg_backend_pid() % ${SLOTS}, ${sign}::int * c.n
      from (${counted}) c where c.n > 0
    on conflict (hour, status, slot) do update set n = usage_event_counts.n + excluded.n`;
}

/**
 * All-time counts by status: a few rows per hour of history, never usage_events. The hours are
 * kept apart so that a reader can also ask what changed within an hour.
 */
export async function eventCounts(db: Db): Promise<Record<CountedStatus, number>> {
  const found = await rows<{ status: CountedStatus; n: string }>(
    db,
    sql`select status, sum(n)::text as n from usage_event_counts group by status`,
  );
  const counts: Record<CountedStatus, number> = {
    reported: 0,
    discarded: 0,
    removed_reported: 0,
    removed_discarded: 0,
  };
  for (const r of found) counts[r.status] = Number(r.n);
  return counts;
}
