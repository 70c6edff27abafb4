import { param, sql } from "drizzle-orm";
import type Stripe from "stripe";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import { describeStripeError } from "../reporter/sinks/describe-stripe-error.ts";
import { USAGE_RECORDS_API_VERSION } from "../reporter/sinks/usage-records.ts";
import type { ReportedGroup, StripeTotal } from "./drift.ts";
import { COUNTED, GROUP_FIGURES, type GroupFigureRow, groupFigures } from "./reported-totals.ts";

/** A subscription item that usage-records events in the range were filed on. */
export interface ReportedItem {
  customer: string;
  stripeCustomerId: string;
  eventName: string;
  stripeMeterId: string;
  subscriptionItemId: string;
}

/** One billing period of an item, with Stripe's total (a usage record summary). */
export interface ItemPeriod {
  item: ReportedItem;
  start: number;
  /** Unix seconds; an open period has none. */
  end: number | null;
  total: number;
}

/** Year 9999, Unix seconds: the end of an open period. */
const OPEN_END = 253_402_300_799;

/** Summary pages read per item at most (100 periods each): years of monthly periods. */
const MAX_PAGES = 10;

/**
 * The subscription items of usage-records meters that events timed in [from, to) were reported
 * on (or sent on and not yet settled). An event's item is its customer × meter's item now: an
 * item changed after events were sent compares those events against the new item.
 */
export async function reportedItems(db: Db, from: Date, to: Date): Promise<ReportedItem[]> {
  const found = await rows<{
    customer: string;
    stripe_customer_id: string | null;
    event_name: string;
    stripe_meter_id: string | null;
    item: string;
  }>(
    db,
    sql`select distinct e.customer_key as customer, c.stripe_customer_id, e.event_name,
               m.stripe_meter_id, si.subscription_item_id as item
          from usage_events e
          join meters m on m.event_name = e.event_name and m.delivery_mode = 'usage_records'
          join customers c on c.key = e.customer_key
          join subscription_items si on si.customer_key = e.customer_key
                                    and si.event_name = e.event_name
         where e.occurred_at >= ${from.toISOString()}::timestamptz
           and e.occurred_at < ${to.toISOString()}::timestamptz
           and ${COUNTED}`,
  );
  return found.map((r) => ({
    customer: r.customer,
    stripeCustomerId: r.stripe_customer_id ?? "",
    eventName: r.event_name,
    stripeMeterId: r.stripe_meter_id ?? "",
    subscriptionItemId: r.item,
  }));
}

interface SummaryPage {
  data?: Array<{
    id?: string;
    period?: { start?: number | null; end?: number | null };
    total_usage?: number;
  }>;
  has_more?: boolean;
}

/**
 * Stripe's usage record summaries of each item, for the billing periods that overlap
 * [from, to): one listing per item, paged, through `rawRequest` pinned to a pre-basil version
 * like the sink that files them. An item Stripe no longer has (its subscription was cancelled
 * and the item deleted) has no totals left to compare and is left out; any other error fails
 * the run.
 */
export async function itemPeriods(
  stripe: Stripe,
  items: readonly ReportedItem[],
  from: Date,
  to: Date,
): Promise<ItemPeriod[]> {
  const lo = Math.floor(from.getTime() / 1000);
  const hi = Math.floor(to.getTime() / 1000);
  const out: ItemPeriod[] = [];
  for (const item of items) {
    let after: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query = `limit=100${after === undefined ? "" : `&starting_after=${encodeURIComponent(after)}`}`;
      const list = await summaries(stripe, item.subscriptionItemId, query);
      if (list === null) break;
      for (const s of list.data ?? []) {
        const start = s.period?.start ?? null;
        const end = s.period?.end ?? null;
        if (start === null || start >= hi || (end !== null && end <= lo)) continue;
        out.push({ item, start, end, total: s.total_usage ?? 0 });
      }
      after = list.data?.at(-1)?.id;
      if (!list.has_more || after === undefined) break;
    }
  }
  return out;
}

/** One page of an item's summaries; null when Stripe has no such item. */
async function summaries(stripe: Stripe, item: string, query: string): Promise<SummaryPage | null> {
  try {
    return (await stripe.rawRequest(
      "GET",
      // rawRequest takes GET parameters in the path only.
      `/v1/subscription_items/${encodeURIComponent(item)}/usage_record_summaries?${query}`,
      undefined,
      { apiVersion: USAGE_RECORDS_API_VERSION },
    )) as SummaryPage;
  } catch (err) {
    const d = describeStripeError(err);
    if (d.kind === "http_error" && d.status === 404 && d.code === "resource_missing") return null;
    throw err;
  }
}

/**
 * What Meterline reported in each period, summed over the whole period (Stripe's total is the
 * period's, not the range's), one statement for all of them; a period Meterline reported
 * nothing in comes back as a group of 0, so that a total Stripe holds alone is drift too.
 */
export async function reportedPeriodTotals(
  db: Db,
  periods: readonly ItemPeriod[],
): Promise<ReportedGroup[]> {
  if (periods.length === 0) return [];
  const found = await rows<GroupFigureRow & { i: number }>(
    db,
    sql`select (p.i - 1)::int as i,
               ${GROUP_FIGURES}
          from unnest(${param(periods.map((p) => p.item.customer))}::text[],
                      ${param(periods.map((p) => p.item.eventName))}::text[],
                      ${param(periods.map((p) => p.start))}::float8[],
                      -- An open period runs on: the latest time Postgres can hold, near enough.
                      ${param(periods.map((p) => p.end ?? OPEN_END))}::float8[])
               with ordinality as p(customer_key, event_name, start_s, end_s, i)
          left join usage_events e
            on e.customer_key = p.customer_key and e.event_name = p.event_name
           and e.occurred_at >= to_timestamp(p.start_s) and e.occurred_at < to_timestamp(p.end_s)
           and ${COUNTED}
         group by p.i`,
  );
  return found.flatMap((r) => {
    const p = periods[r.i];
    if (!p) return [];
    return [
      {
        customer: p.item.customer,
        stripeCustomerId: p.item.stripeCustomerId,
        eventName: p.item.eventName,
        stripeMeterId: p.item.stripeMeterId,
        subscriptionItemId: p.item.subscriptionItemId,
        hour: p.start,
        ...(p.end === null ? {} : { periodEnd: p.end }),
        ...groupFigures(r),
      },
    ];
  });
}

/** Stripe's side of the same periods, in the comparison's shape. Pure. */
export function periodStripeTotals(periods: readonly ItemPeriod[]): StripeTotal[] {
  return periods.map((p) => ({
    stripeMeterId: p.item.stripeMeterId,
    stripeCustomerId: p.item.stripeCustomerId,
    subscriptionItemId: p.item.subscriptionItemId,
    hour: p.start,
    ...(p.end === null ? {} : { periodEnd: p.end }),
    value: p.total,
  }));
}
