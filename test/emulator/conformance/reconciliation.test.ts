import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { customerAndMeter, manualClock, rejectionOf } from "../helpers.ts";
import { setup, T0 } from "./support.ts";

describe("stripe-facts: Reconciliation", () => {
  it('summaries: "GET /v1/billing/meters/{id}/event_summaries?customer&start_time&end_time → aggregated_value" via stripe.billing.meters.listEventSummaries', async () => {
    const { stripe } = await setup({}, { clock: manualClock((T0 + 3 * 3600) * 1000) });
    const { customer, meter } = await customerAndMeter(stripe);
    const send = (value: string, timestamp: number) =>
      stripe.billing.meterEvents.create({
        event_name: "api_requests",
        payload: { stripe_customer_id: customer.id, value },
        timestamp,
      });
    await send("2", T0 + 10);
    await send("3", T0 + 3600 + 5);
    await send("100", T0 - 60);
    await stripe.billing.meterEvents.create({
      event_name: "api_requests",
      payload: { stripe_customer_id: "cus_other", value: "50" },
      timestamp: T0 + 20,
    });
    const all = await stripe.billing.meters.listEventSummaries(meter.id, {
      customer: customer.id,
      start_time: T0,
      end_time: T0 + 2 * 3600,
    });
    const summaries: Stripe.Billing.MeterEventSummary[] = all.data;
    expect(summaries).toEqual([
      expect.objectContaining({
        object: "billing.meter_event_summary",
        aggregated_value: 5,
        meter: meter.id,
        start_time: T0,
        end_time: T0 + 2 * 3600,
        livemode: false,
      }),
    ]);
    const hourly = await stripe.billing.meters.listEventSummaries(meter.id, {
      customer: customer.id,
      start_time: T0,
      end_time: T0 + 2 * 3600,
      value_grouping_window: "hour",
    });
    expect(hourly.data.map((s) => [s.start_time, s.aggregated_value])).toEqual([
      [T0 + 3600, 3],
      [T0, 2],
    ]);
  });

  it('summaries: "start_time/end_time minute-aligned" (400 otherwise)', async () => {
    const { stripe } = await setup();
    const { customer, meter } = await customerAndMeter(stripe);
    const error = await rejectionOf(
      stripe.billing.meters.listEventSummaries(meter.id, {
        customer: customer.id,
        start_time: T0 + 1,
        end_time: T0 + 3600,
      }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400, param: "start_time" });
  });
});
