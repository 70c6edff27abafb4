import type Stripe from "stripe";
import type { ReportedGroup, StripeTotal } from "./drift.ts";

/** Summary requests in flight at once: reads share the account's limit with the workers. */
const CONCURRENCY = 4;

/**
 * Stripe's hourly totals (meter event summaries) for every customer × meter that Meterline
 * reported in, over the hours its groups span: one listing per pair, paged by the SDK.
 */
export async function stripeTotals(
  stripe: Stripe,
  groups: readonly ReportedGroup[],
): Promise<StripeTotal[]> {
  const spans = new Map<string, { meter: string; customer: string; first: number; last: number }>();
  for (const g of groups) {
    const key = `${g.stripeMeterId}\u0000${g.stripeCustomerId}`;
    const span = spans.get(key);
    if (!span)
      spans.set(key, {
        meter: g.stripeMeterId,
        customer: g.stripeCustomerId,
        first: g.hour,
        last: g.hour,
      });
    else {
      span.first = Math.min(span.first, g.hour);
      span.last = Math.max(span.last, g.hour);
    }
  }
  const pairs = [...spans.values()];
  const out: StripeTotal[] = [];
  let next = 0;
  async function lane(): Promise<void> {
    for (let i = next++; i < pairs.length; i = next++) {
      const pair = pairs[i];
      if (!pair) continue;
      const list = stripe.billing.meters.listEventSummaries(pair.meter, {
        customer: pair.customer,
        start_time: pair.first,
        end_time: pair.last + 3600,
        value_grouping_window: "hour",
        limit: 100,
      });
      for await (const summary of list) {
        out.push({
          stripeMeterId: pair.meter,
          stripeCustomerId: pair.customer,
          hour: summary.start_time,
          value: summary.aggregated_value,
        });
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, pairs.length) }, lane));
  return out;
}
