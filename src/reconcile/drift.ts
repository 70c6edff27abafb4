import type { DriftRow } from "../db/schema/reconciliations.ts";

/** What Meterline reported for one customer × meter × hour (by the events' own timestamps). */
export interface ReportedGroup {
  customer: string;
  stripeCustomerId: string;
  eventName: string;
  stripeMeterId: string;
  /** The hour's start, Unix seconds (UTC). */
  hour: number;
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

/** Stripe's total of one meter × customer × hour (a meter event summary's aggregated_value). */
export interface StripeTotal {
  stripeMeterId: string;
  stripeCustomerId: string;
  hour: number;
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

const keyOf = (meter: string, customer: string, hour: number) =>
  `${meter}\u0000${customer}\u0000${hour}`;

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
    const key = keyOf(s.stripeMeterId, s.stripeCustomerId, s.hour);
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
    const key = keyOf(g.stripeMeterId, g.stripeCustomerId, g.hour);
    seen.add(key);
    names.set(keyOf(g.stripeMeterId, g.stripeCustomerId, 0), {
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
      });
    }
  }
  for (const s of stripe) {
    const key = keyOf(s.stripeMeterId, s.stripeCustomerId, s.hour);
    if (seen.has(key) || s.value === 0) continue;
    seen.add(key);
    const value = stripeBy.get(key) ?? 0;
    const name = names.get(keyOf(s.stripeMeterId, s.stripeCustomerId, 0));
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
    });
  }
  report.drift.sort(
    (a, b) => Math.abs(b.difference) - Math.abs(a.difference) || a.hour.localeCompare(b.hour),
  );
  return report;
}
