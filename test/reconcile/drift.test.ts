import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareTotals, type ReportedGroup, type StripeTotal } from "../../src/reconcile/drift.ts";

const H = 1_767_225_600; // 2026-01-01T00:00:00Z
const NOW = (H + 10 * 3600) * 1000;

function group(over: Partial<ReportedGroup> = {}): ReportedGroup {
  return {
    customer: "acme",
    stripeCustomerId: "cus_1",
    eventName: "api_calls",
    stripeMeterId: "mtr_1",
    hour: H,
    total: 10,
    events: 2,
    eventIds: ["e1", "e2"],
    lastReportedAt: NOW - 3_600_000,
    unsettled: 0,
    ...over,
  };
}
const theirs = (value: number, over: Partial<StripeTotal> = {}): StripeTotal => ({
  stripeMeterId: "mtr_1",
  stripeCustomerId: "cus_1",
  hour: H,
  value,
  ...over,
});

describe("comparing Meterline's totals with Stripe's", () => {
  it("equal totals are no drift; the sums are kept", () => {
    const r = compareTotals([group()], [theirs(10)], NOW);
    expect(r).toEqual({
      groups: 1,
      settlingGroups: 0,
      meterlineTotal: 10,
      stripeTotal: 10,
      drift: [],
    });
  });

  it("Stripe counting less is drift, naming the group's events", () => {
    const r = compareTotals([group()], [theirs(7)], NOW);
    expect(r.drift).toEqual([
      {
        customer: "acme",
        stripe_customer_id: "cus_1",
        event_name: "api_calls",
        stripe_meter_id: "mtr_1",
        hour: "2026-01-01T00:00:00.000Z",
        meterline: 10,
        stripe: 7,
        difference: -3,
        events: 2,
        event_ids: ["e1", "e2"],
      },
    ]);
  });

  it("an hour Stripe counts and Meterline reported nothing in is drift, with no events behind it", () => {
    const r = compareTotals([group()], [theirs(10), theirs(4, { hour: H + 3600 })], NOW);
    expect(r.drift.map((d) => [d.hour, d.meterline, d.stripe, d.customer, d.events])).toEqual([
      ["2026-01-01T01:00:00.000Z", 0, 4, "acme", 0],
    ]);
    // Stripe's empty hours are not drift.
    expect(
      compareTotals([group()], [theirs(10), theirs(0, { hour: H + 3600 })], NOW).drift,
    ).toEqual([]);
  });

  it("a group reported within the settle margin, or with a send not yet settled, is left out", () => {
    const recent = compareTotals(
      [group({ lastReportedAt: NOW - 1_000 })],
      [theirs(7)],
      NOW - 60_000,
    );
    expect(recent).toMatchObject({ groups: 0, settlingGroups: 1, drift: [] });
    const inFlight = compareTotals([group({ unsettled: 1 })], [theirs(11)], NOW);
    expect(inFlight).toMatchObject({ groups: 0, settlingGroups: 1, drift: [] });
    // ...and Stripe's total of that hour is not then called drift as a Stripe-only hour.
    expect(inFlight.drift).toEqual([]);
  });

  it("the largest difference comes first", () => {
    const r = compareTotals(
      [group(), group({ hour: H + 3600, total: 100 })],
      [theirs(9), theirs(50, { hour: H + 3600 })],
      NOW,
    );
    expect(r.drift.map((d) => d.difference)).toEqual([-50, -1]);
  });

  it("property: drift is exactly the groups whose totals differ, and the totals add up", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.nat(50), fc.nat(50)), {
          maxLength: 30,
        }),
        (rows) => {
          // One group per distinct hour index; Meterline's and Stripe's values drawn apart.
          const byHour = new Map(rows.map(([h, mine, stripe]) => [h, { mine, stripe }]));
          const groups = [...byHour].map(([h, v]) => group({ hour: H + h * 3600, total: v.mine }));
          const stripe = [...byHour].map(([h, v]) => theirs(v.stripe, { hour: H + h * 3600 }));
          const r = compareTotals(groups, stripe, NOW);
          const differing = [...byHour.values()].filter((v) => v.mine !== v.stripe).length;
          expect(r.drift).toHaveLength(differing);
          expect(r.groups).toBe(byHour.size);
          expect(r.meterlineTotal).toBe([...byHour.values()].reduce((s, v) => s + v.mine, 0));
          expect(r.stripeTotal).toBe([...byHour.values()].reduce((s, v) => s + v.stripe, 0));
          for (const d of r.drift) expect(d.difference).toBe(d.stripe - d.meterline);
        },
      ),
    );
  });
});
