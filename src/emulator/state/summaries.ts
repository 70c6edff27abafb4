import { createHash } from "node:crypto";
import type Stripe from "stripe";
import { invalidRequest } from "../errors.ts";
import type { Store } from "./store.ts";

/** The query of an event summary request, after parameter parsing. */
export interface SummaryQuery {
  /** The meter. */
  meter: Stripe.Billing.Meter;
  /** The customer whose usage is summed. */
  customer: string;
  /** Inclusive start, Unix seconds, minute-aligned. */
  start: number;
  /** Exclusive end, Unix seconds, minute-aligned. */
  end: number;
  /** Split into hour or day windows; one summary for the whole range without. */
  window: "hour" | "day" | null;
}

const STEP = { hour: 3600, day: 86_400 } as const;

/** Stripe requires minute-aligned start and end times (400 otherwise; wording *unverified*). */
export function checkMinuteAligned(param: "start_time" | "end_time", value: number): void {
  if (value % 60 !== 0) {
    throw invalidRequest(
      `Invalid ${param}: must be aligned to a minute boundary (a multiple of 60).`,
      {
        param,
      },
    );
  }
}

/**
 * Aggregate the counted events of a meter for a customer, by the events' own timestamps, per
 * window of [start, end): sum, count, or the last value, per the meter's formula. The ledger
 * is up to date at once; Stripe's summaries are eventually consistent. Windows are returned
 * oldest first (the route lists them newest first, like every Stripe list: order
 * *unverified*), with ids stable across calls so cursors work.
 */
export function eventSummaries(store: Store, q: SummaryQuery): Stripe.Billing.MeterEventSummary[] {
  const events = store.ledger
    .countedEvents()
    .filter((e) => e.meter === q.meter.id && e.customer === q.customer);
  const step = q.window === null ? q.end - q.start : STEP[q.window];
  const out: Stripe.Billing.MeterEventSummary[] = [];
  for (let from = q.start; from < q.end; from += step) {
    const to = Math.min(from + step, q.end);
    const inWindow = events.filter((e) => e.timestamp >= from && e.timestamp < to);
    const formula = q.meter.default_aggregation.formula;
    let value = 0;
    if (formula === "count") value = inWindow.length;
    else if (formula === "last") value = inWindow.at(-1)?.value ?? 0;
    else value = inWindow.reduce((sum, e) => sum + e.value, 0);
    const digest = createHash("sha256")
      .update(JSON.stringify([q.meter.id, q.customer, from, to]))
      .digest("hex")
      .slice(0, 24);
    out.push({
      id: `mtrusg_${digest}`,
      object: "billing.meter_event_summary",
      aggregated_value: value,
      end_time: to,
      livemode: q.meter.livemode,
      meter: q.meter.id,
      start_time: from,
    });
  }
  return out;
}
