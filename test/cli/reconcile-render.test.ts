import { describe, expect, it } from "vitest";
import { renderCsv, renderReport } from "../../src/cli/reconcile.ts";

const base = {
  id: 7,
  started_at: "2026-12-01T19:00:00.000Z",
  finished_at: "2026-12-01T19:00:01.000Z",
  range_start: "2026-11-29T20:00:00.000Z",
  range_end: "2026-12-01T20:00:00.000Z",
  ran_by: "api",
  groups: 9,
  drift_groups: 2,
  settling_groups: 1,
  meterline_total: 270,
  stripe_total: 270,
  error: null,
  drift: [
    {
      customer: "rec-0",
      stripe_customer_id: "cus_1",
      event_name: "api_calls",
      stripe_meter_id: "mtr_1",
      hour: "2026-12-01T18:00:00.000Z",
      meterline: 30,
      stripe: 23,
      difference: -7,
      events: 10,
      event_ids: ["rec-000", "rec-009"],
    },
    {
      customer: 'a "quoted", customer',
      stripe_customer_id: "cus_2",
      event_name: "api_calls",
      stripe_meter_id: "mtr_1",
      hour: "2026-12-01T19:00:00.000Z",
      meterline: 0,
      stripe: 7,
      difference: 7,
      events: 0,
      event_ids: [],
    },
    {
      customer: "ur-1",
      stripe_customer_id: "cus_3",
      event_name: "minutes",
      stripe_meter_id: "",
      hour: "2026-11-15T00:00:00.000Z",
      meterline: 12,
      stripe: 9,
      difference: -3,
      events: 4,
      event_ids: ["ur-a", "ur-b", "ur-c", "ur-d"],
      subscription_item: "si_9",
      period_end: "2026-12-15T00:00:00.000Z",
    },
  ],
};

describe("the reconciliation report", () => {
  it("as a table: one line per difference, signed, with the group's events and how many in all", () => {
    const text = renderReport(base);
    expect(text).toContain(
      "9 groups compared (customer × meter × hour; × billing period for usage records); Meterline 270, Stripe 270; 1 left out",
    );
    expect(text).toContain("Drift in 2 groups:");
    expect(text).toMatch(
      /rec-0 +api_calls +2026-12-01 18:00 +30 +23 +-7 +rec-000, rec-009, … \(10 in all\)/,
    );
    expect(text).toMatch(/2026-12-01 19:00 +0 +7 +\+7 +\(none reported by Meterline\)/);
    // A usage-records group is a billing period, shown whole.
    expect(text).toMatch(
      /ur-1 +minutes +period 2026-11-15 00:00 to 2026-12-15 00:00 +12 +9 +-3 +ur-a, ur-b, ur-c, ur-d/,
    );
  });

  it("as CSV: a header, then fields quoted only when they must be", () => {
    expect(renderCsv(base).split("\n")).toEqual([
      "customer,stripe_customer_id,event_name,stripe_meter_id,hour,meterline,stripe,difference,events,event_ids,subscription_item,period_end",
      "rec-0,cus_1,api_calls,mtr_1,2026-12-01T18:00:00.000Z,30,23,-7,10,rec-000 rec-009,,",
      '"a ""quoted"", customer",cus_2,api_calls,mtr_1,2026-12-01T19:00:00.000Z,0,7,7,0,,,',
      "ur-1,cus_3,minutes,,2026-11-15T00:00:00.000Z,12,9,-3,4,ur-a ur-b ur-c ur-d,si_9,2026-12-15T00:00:00.000Z",
      "",
    ]);
  });

  it("a run that failed says why and shows no figures", () => {
    const text = renderReport({ ...base, error: "connect ECONNREFUSED", drift: [] });
    expect(text).toContain("failed: connect ECONNREFUSED");
    expect(text).not.toContain("groups compared");
  });
});
