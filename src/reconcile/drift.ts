import type { DriftRow } from "../db/schema/reconciliations.ts";

/**
 * What Meterline reported for one customer × meter × hour (by the events' own timestamps), or,
 * for legacy usage records, for one subscription item × billing period.
 */
export interface ReportedGroup {
  customer: string;
  stripeCustomerId: string;
  eventName: string;
  /** The Stripe meter; "" for a usage-records group whose meter has none. */
  stripeMeterId: string;
  /** Usage records only: the subscription item the group's events were filed on. */
  subscriptionItemId?: string;
  /** The hour's start, or the billing period's start for usage records, Unix seconds (UTC). */
  hour: number;
  /** Usage records only: the billing period's end, Unix seconds. */
  periodEnd?: number;
  /** Sum of the values of its reported events. */
  total: number;
  /** How many reported events, and the first ids. */
  events: number;
  eventIds: string[];
  /** When the last of them was reported, ms; null when none is reported yet. */
  lastReportedAt: number | null;
  /** Events of the group sent but not yet settled: Stripe may count them before Meterline does. */
  unsettled: number;
}

/**
 * Stripe's total of one meter × customer × hour (a meter event summary's aggregated_value), or
 * of one subscription item × billing period (a usage record summary's total_usage).
 */
export interface StripeTotal {
  stripeMeterId: string;
  stripeCustomerId: string;
  subscriptionItemId?: string;
  hour: number;
  periodEnd?: number;
  value: number;
}

/** The outcome of comparing the two sides. */
export interface DriftReport {
  /** Groups compared (settling ones left out). */
  groups: number;
  /** Groups left out: reported within the settle margin, or with sends not yet settled. */
  settlingGroups: number;
  meterlineTotal: number;
  stripeTotal: number;
  /** Every compared group whose totals differ, largest difference first. */
  drift: DriftRow[];
}

/** What a total is counted on: a subscription item for usage records, else meter × customer. */
const targetOf = (t: {
  stripeMeterId: string;
  stripeCustomerId: string;
  subscriptionItemId?: string;
}) =>
  t.subscriptionItemId === undefined
    ? `${t.stripeMeterId}\u0000${t.stripeCustomerId}`
    : `si\u0000${t.subscriptionItemId}`;
const keyOf = (t: Parameters<typeof targetOf>[0], hour: number) => `${targetOf(t)}\u0000${hour}`;

/** The usage-records fields of a drift row, when the group is one. */
function periodFields(t: { subscriptionItemId?: string; periodEnd?: number }) {
  if (t.subscriptionItemId === undefined) return {};
  return {
    subscription_item: t.subscriptionItemId,
    ...(t.periodEnd === undefined
      ? {}
      : { period_end: new Date(t.periodEnd * 1000).toISOString() }),
  };
}

/**
 * Compares Meterline's reported totals with Stripe's, per customer × meter × hour. Pure.
 *
 * Stripe's summaries are eventually consistent: a group with an event reported after
 * `settledBefore` (ms), or with a send not yet settled, is left out as settling rather than
 * called drift. An hour Stripe counts for a customer × meter that Meterline reported nothing
 * in is drift too (Meterline 0), once no group of that pair is settling in it.
 */
export function compareTotals(
  reported: readonly ReportedGroup[],
  stripe: readonly StripeTotal[],
  settledBefore: number,
): DriftReport {
  const stripeBy = new Map<string, number>();
  for (const s of stripe) {
    const key = keyOf(s, s.hour);
    stripeBy.set(key, (stripeBy.get(key) ?? 0) + s.value);
  }
  const report: DriftReport = {
    groups: 0,
    settlingGroups: 0,
    meterlineTotal: 0,
    stripeTotal: 0,
    drift: [],
  };
  const seen = new Set<string>();
  /** Names for Stripe-only hours: the customer key and event name of the pair. */
  const names = new Map<string, { customer: string; eventName: string }>();
  for (const g of reported) {
    const key = keyOf(g, g.hour);
    seen.add(key);
    names.set(targetOf(g), {
      customer: g.customer,
      eventName: g.eventName,
    });
    const settling =
      g.unsettled > 0 || (g.lastReportedAt !== null && g.lastReportedAt > settledBefore);
    if (settling) {
      report.settlingGroups++;
      continue;
    }
    const theirs = stripeBy.get(key) ?? 0;
    report.groups++;
    report.meterlineTotal += g.total;
    report.stripeTotal += theirs;
    if (theirs !== g.total) {
      report.drift.push({
        customer: g.customer,
        stripe_customer_id: g.stripeCustomerId,
        event_name: g.eventName,
        stripe_meter_id: g.stripeMeterId,
        hour: new Date(g.hour * 1000).toISOString(),
        meterline: g.total,
        stripe: theirs,
        difference: theirs - g.total,
        events: g.events,
        event_ids: g.eventIds,
        ...periodFields(g),
      });
    }
  }
  for (const s of stripe) {
    const key = keyOf(s, s.hour);
    if (seen.has(key) || s.value === 0) continue;
    seen.add(key);
    const value = stripeBy.get(key) ?? 0;
    const name = names.get(targetOf(s));
    report.groups++;
    report.stripeTotal += value;
    report.drift.push({
      customer: name?.customer ?? "",
      stripe_customer_id: s.stripeCustomerId,
      event_name: name?.eventName ?? "",
      stripe_meter_id: s.stripeMeterId,
      hour: new Date(s.hour * 1000).toISOString(),
      meterline: 0,
      stripe: value,
      difference: value,
      events: 0,
      event_ids: [],
      ...periodFields(s),
    });
  }
  report.drift.sort(
    (a, b) => Math.abs(b.difference) - Math.abs(a.difference) || a.hour.localeCompare(b.hour),
  );
  return report;
}
