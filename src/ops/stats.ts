import { sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";

const count = z.number().int().min(0);

/** The queue at a glance: what waits, what was billed, what was dead-lettered and why. */
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
  reported: count,
  failed: count,
  discarded: count,
  failed_by_code: z.record(z.string(), count).describe("Dead letters by their error code"),
});

/** The queue at a glance: what waits, what was billed, what was dead-lettered and why. */
export type QueueStats = z.infer<typeof queueStatsSchema>;

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

/** Counts events by status, wait reason and error code in one grouped scan. */
export async function queueStats(db: Db, scope: StatsScope = {}): Promise<QueueStats> {
  const where = [
    scope.eventName === undefined ? null : sql`event_name = ${scope.eventName}`,
    scope.receivedSince === undefined
      ? null
      : sql`received_at >= ${scope.receivedSince.toISOString()}::timestamptz`,
  ].filter((part) => part !== null);
  const groups = await rows<StatsRow>(
    db,
    sql`select status::text as status,
               last_error_code::text as code,
               wait_reason::text as wait_reason,
               (status = 'pending' and lease_expires_at is not null and lease_expires_at > now()) as leased,
               (next_attempt_at <= now()) as due,
               count(*)::int as n,
               to_char(min(received_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as oldest
          from usage_events
         ${where.length > 0 ? sql`where ${sql.join(where, sql` and `)}` : sql``}
         group by 1, 2, 3, 4, 5`,
  );
  return summarize(groups);
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
