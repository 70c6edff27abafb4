import { sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import { eventCounts } from "../outbox/event-counts.ts";

const count = z.number().int().min(0);

/** GET /v1/stats's answer; QueueStats comes from it. */
export const queueStatsSchema = z.object({
  pending: z.object({
    total: count,
    due: count.describe("Due now and not held by a worker"),
    leased: count.describe('Held by a worker whose lease has not expired ("leased")'),
    scheduled: count.describe("Scheduled later (backoff, or a wait reason)"),
    by_wait_reason: z
      .record(z.string(), count)
      .describe("Pending events by wait_reason (customer_unlinked, meter_inactive, retry, …)"),
    oldest_received_at: z
      .string()
      .nullable()
      .describe("When the oldest pending event was received; null when none is pending"),
  }),
  reported: count.describe(
    "Every event ever reported (less the few a later asynchronous rejection failed), removed ones included",
  ),
  failed: count,
  discarded: count.describe("Every event ever discarded, removed ones included"),
  failed_by_code: z.record(z.string(), count).describe("Dead letters by their error code"),
  removed: z
    .object({ reported: count, discarded: count })
    .describe(
      "Of the reported and discarded above, how many retention has removed (METERLINE_RETENTION_DAYS); 0 when scoped by event_name or received_since",
    ),
});

/** The queue at a glance: what waits, what was billed, what was dead-lettered and why. */
export type QueueStats = z.infer<typeof queueStatsSchema>;

/** When a group's oldest event was received, ISO 8601 (UTC). */
const oldest = sql`to_char(min(received_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** One group of the stats query. */
export interface StatsRow extends Record<string, unknown> {
  status: string;
  code: string | null;
  wait_reason: string | null;
  leased: boolean;
  due: boolean;
  n: number;
  oldest: string | null;
}

/** Which events the counts are of: all of them, or one meter's, or those received since then. */
export interface StatsScope {
  eventName?: string | undefined;
  receivedSince?: Date | undefined;
}

/**
 * The statement behind the pending and failed figures: each branch bounded by a partial index's
 * predicate (usage_events_due_idx: pending events, unleased or leased for the stream;
 * usage_events_leased_idx: leased events of the other meters; usage_events_dead_letter_idx), so
 * it never visits the reported rows, the bulk of the table. Exported so that a test can read
 * its plan.
 */
export const statsStatement = sql`
  select 'pending' as status, null::text as code, wait_reason::text as wait_reason,
         -- An expired lease is not in flight: its worker is gone, a rescue will take it.
         coalesce(lease_expires_at > now(), false) as leased, (next_attempt_at <= now()) as due,
         count(*)::int as n, ${oldest} as oldest
    from usage_events where status = 'pending' and pair_owner is null
   group by 3, 4, 5
  union all
  select 'pending', null, wait_reason::text, coalesce(lease_expires_at > now(), false),
         (next_attempt_at <= now()), count(*)::int, ${oldest}
    from usage_events where status = 'pending' and pair_owner is not null
   group by 3, 4, 5
  union all
  select 'failed', last_error_code::text, null, false, false, count(*)::int, null
    from usage_events where status = 'failed'
   group by 2`;

/**
 * The queue's figures. Unscoped: pending and failed counted through partial indexes, reported
 * and discarded read from their running counts (usage_event_counts), never the whole table.
 * Scoped (one meter, or received since a time: a load's or a demo's own events): those events
 * counted in one grouped read, which the running counts cannot narrow.
 */
export async function queueStats(db: Db, scope: StatsScope = {}): Promise<QueueStats> {
  if (scope.eventName !== undefined || scope.receivedSince !== undefined) {
    return summarize(await rows<StatsRow>(db, scopedStatement(scope)));
  }
  const groups = await rows<StatsRow>(db, statsStatement);
  const counts = await eventCounts(db);
  return {
    ...summarize(groups),
    reported: counts.reported,
    discarded: counts.discarded,
    removed: { reported: counts.removed_reported, discarded: counts.removed_discarded },
  };
}

/** Every status of the scope's events, grouped as the stats statement groups them. */
function scopedStatement(scope: StatsScope) {
  const where = [
    scope.eventName === undefined ? null : sql`event_name = ${scope.eventName}`,
    scope.receivedSince === undefined
      ? null
      : sql`received_at >= ${scope.receivedSince.toISOString()}::timestamptz`,
  ].filter((part) => part !== null);
  return sql`select status::text as status,
                    last_error_code::text as code,
                    wait_reason::text as wait_reason,
                    (status = 'pending' and lease_expires_at is not null and lease_expires_at > now()) as leased,
                    (next_attempt_at <= now()) as due,
                    count(*)::int as n,
                    ${oldest} as oldest
               from usage_events
              where ${sql.join(where, sql` and `)}
              group by 1, 2, 3, 4, 5`;
}

/** Folds the grouped rows into QueueStats. Pure. */
export function summarize(groups: readonly StatsRow[]): QueueStats {
  const stats: QueueStats = {
    pending: {
      total: 0,
      due: 0,
      leased: 0,
      scheduled: 0,
      by_wait_reason: {},
      oldest_received_at: null,
    },
    reported: 0,
    failed: 0,
    discarded: 0,
    failed_by_code: {},
    removed: { reported: 0, discarded: 0 },
  };
  for (const g of groups) {
    if (g.status === "pending") {
      const p = stats.pending;
      p.total += g.n;
      if (g.leased) p.leased += g.n;
      else if (g.due) p.due += g.n;
      else p.scheduled += g.n;
      if (g.wait_reason !== null) {
        p.by_wait_reason[g.wait_reason] = (p.by_wait_reason[g.wait_reason] ?? 0) + g.n;
      }
      // ISO strings of one format compare in time order.
      if (g.oldest !== null && (p.oldest_received_at === null || g.oldest < p.oldest_received_at)) {
        p.oldest_received_at = g.oldest;
      }
    } else if (g.status === "reported") {
      stats.reported += g.n;
    } else if (g.status === "failed") {
      stats.failed += g.n;
      const code = g.code ?? "unknown";
      stats.failed_by_code[code] = (stats.failed_by_code[code] ?? 0) + g.n;
    } else if (g.status === "discarded") {
      stats.discarded += g.n;
    }
  }
  return stats;
}
