import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import type { ReportedGroup } from "./drift.ts";

/** How many event ids a group names: enough to find the ones behind a difference. */
export const EVENT_IDS_PER_GROUP = 20;

/**
 * The figures of a group of events `e`, the same for every delivery mode: the sum and count of
 * its reported events, the first ids, when the last was reported, and how many were sent and not
 * yet settled. count(e.id), not count(*): a left-joined group without events counts 0.
 */
export const GROUP_FIGURES = sql`coalesce(sum(e.value) filter (where e.status = 'reported'), 0)::bigint::text as total,
               (count(e.id) filter (where e.status = 'reported'))::int as events,
               (array_agg(e.id order by e.id) filter (where e.status = 'reported'))[1:${EVENT_IDS_PER_GROUP}]
                 as event_ids,
               (extract(epoch from max(e.reported_at)) * 1000)::bigint::text as last_reported_ms,
               (count(e.id) filter (where e.status = 'pending'))::int as unsettled`;

/** The events a reconciliation counts: reported, or sent and not yet settled (Stripe may hold them). */
export const COUNTED = sql`(e.status = 'reported' or (e.status = 'pending' and e.first_sent_at is not null))`;

/** The figures' columns as the driver returns them. */
export type GroupFigureRow = {
  total: string;
  events: number;
  event_ids: string[] | null;
  last_reported_ms: string | null;
  unsettled: number;
};

/** A group's figures in the comparison's shape. */
export function groupFigures(r: GroupFigureRow) {
  return {
    total: Number(r.total),
    events: r.events,
    eventIds: r.event_ids ?? [],
    lastReportedAt: r.last_reported_ms === null ? null : Number(r.last_reported_ms),
    unsettled: r.unsettled,
  };
}

/**
 * What Meterline reported to the meter event endpoints (v1 and the v2 stream) for events whose
 * own timestamps fall in [from, to), per customer × meter × hour, as Stripe's hourly summaries
 * group them. Events sent but not yet settled are counted apart (`unsettled`): Stripe may
 * already hold them. Legacy usage records are summed by Stripe per billing period, not per
 * hour: usage-record-totals.ts compares those.
 */
export async function reportedTotals(db: Db, from: Date, to: Date): Promise<ReportedGroup[]> {
  const found = await rows<
    GroupFigureRow & {
      customer: string;
      stripe_customer_id: string;
      event_name: string;
      stripe_meter_id: string;
      hour: string;
    }
  >(
    db,
    sql`select e.customer_key as customer, c.stripe_customer_id, e.event_name, m.stripe_meter_id,
               (floor(extract(epoch from e.occurred_at) / 3600) * 3600)::bigint::text as hour,
               ${GROUP_FIGURES}
          from usage_events e
          join customers c on c.key = e.customer_key
          join meters m on m.event_name = e.event_name
         where e.occurred_at >= ${from.toISOString()}::timestamptz
           and e.occurred_at < ${to.toISOString()}::timestamptz
           and m.delivery_mode in ('meter_events', 'meter_stream')
           and c.stripe_customer_id is not null and m.stripe_meter_id is not null
           and ${COUNTED}
         group by 1, 2, 3, 4, 5`,
  );
  return found.map((r) => ({
    customer: r.customer,
    stripeCustomerId: r.stripe_customer_id,
    eventName: r.event_name,
    stripeMeterId: r.stripe_meter_id,
    hour: Number(r.hour),
    ...groupFigures(r),
  }));
}
