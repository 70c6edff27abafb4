import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { customerAndMeter, manualClock } from "../helpers.ts";
import { destination, setup, T0, usageParams } from "./support.ts";

const SECRET = "whsec_conformance";

describe("stripe-facts: Asynchronous validation errors", () => {
  it('async errors: "v1.billing.meter.error_report_triggered: data.reason.error_count, error_types[] = {code, error_count, sample_errors[]}, validation_start/end, related_object = the meter", verified with parseEventNotification', async () => {
    const dest = await destination();
    const { emu, stripe } = await setup(
      { eventDestinations: [{ url: dest.url, secret: SECRET }], errorReportIntervalMs: 0 },
      { clock: manualClock(T0 * 1000) },
    );
    const { meter } = await customerAndMeter(stripe);
    for (let i = 0; i < 7; i++) {
      await stripe.billing.meterEvents.create(usageParams("cus_unknown", "1", `bad-${i}`));
    }
    await emu.flushErrorReports();
    expect(dest.received).toHaveLength(1);
    const [delivery] = dest.received;
    if (!delivery) throw new Error("nothing delivered");
    const header = delivery.headers["stripe-signature"];
    expect(typeof header).toBe("string");
    const notification = stripe.parseEventNotification(
      delivery.body,
      String(header),
      SECRET,
      undefined,
      undefined,
      T0 * 1000,
    );
    expect(notification).toMatchObject({
      object: "v2.core.event",
      type: "v1.billing.meter.error_report_triggered",
      livemode: false,
      related_object: {
        id: meter.id,
        type: "billing.meter",
        url: `/v1/billing/meters/${meter.id}`,
      },
    });
    expect(notification.id).toMatch(/^evt_/);
    expect(JSON.parse(delivery.body)).not.toHaveProperty("data");

    const event = await notification.fetchEvent();
    if (event.type !== "v1.billing.meter.error_report_triggered") throw new Error(event.type);
    expect(event.data.reason.error_count).toBe(7);
    expect(event.data.reason.error_types).toEqual([
      expect.objectContaining({ code: "meter_event_customer_not_found", error_count: 7 }),
    ]);
    // Samples are samples: capped at 5 per code.
    const samples = event.data.reason.error_types[0]?.sample_errors ?? [];
    expect(samples.map((s) => s.request.identifier)).toEqual([
      "bad-0",
      "bad-1",
      "bad-2",
      "bad-3",
      "bad-4",
    ]);
    expect(event.data.validation_start).toBe(new Date(T0 * 1000).toISOString());
    expect(event.data.validation_end).toEqual(expect.any(String));
  });

  it('async errors: "v1.billing.meter.no_meter_found" for events whose event_name has no meter', async () => {
    const dest = await destination();
    const { emu, stripe } = await setup(
      { eventDestinations: [{ url: dest.url, secret: SECRET }], errorReportIntervalMs: 0 },
      { clock: manualClock(T0 * 1000) },
    );
    const customer = await stripe.customers.create({});
    await stripe.billing.meterEvents.create({
      event_name: "nobody_meters_this",
      payload: { stripe_customer_id: customer.id, value: "1" },
      identifier: "orphan-1",
    });
    const { events } = await emu.flushErrorReports();
    expect(events.map((e) => e.type)).toEqual(["v1.billing.meter.no_meter_found"]);
    const [delivery] = dest.received;
    if (!delivery) throw new Error("nothing delivered");
    const notification = stripe.parseEventNotification(
      delivery.body,
      String(delivery.headers["stripe-signature"]),
      SECRET,
      undefined,
      undefined,
      T0 * 1000,
    );
    const event = await notification.fetchEvent();
    if (event.type !== "v1.billing.meter.no_meter_found") throw new Error(event.type);
    expect(event.data.reason.error_types[0]).toMatchObject({
      code: "no_meter",
      error_count: 1,
      sample_errors: [expect.objectContaining({ request: { identifier: "orphan-1" } })],
    });
  });

  it('webhook signatures: "Stripe-Signature: t=<unix>,v1=<hex>; HMAC-SHA256 over \\"<t>.<raw body>\\" with the endpoint secret" — the same header webhooks.generateTestHeaderString makes', async () => {
    const dest = await destination();
    const { emu, stripe } = await setup(
      { eventDestinations: [{ url: dest.url, secret: SECRET }], errorReportIntervalMs: 0 },
      { clock: manualClock(T0 * 1000) },
    );
    await customerAndMeter(stripe);
    await stripe.billing.meterEvents.create(usageParams("cus_unknown"));
    await emu.flushErrorReports();
    const [delivery] = dest.received;
    if (!delivery) throw new Error("nothing delivered");
    const expected = stripe.webhooks.generateTestHeaderString({
      payload: delivery.body,
      secret: SECRET,
      timestamp: T0,
    });
    expect(delivery.headers["stripe-signature"]).toBe(expected);
    expect(() =>
      stripe.parseEventNotification(
        delivery.body,
        expected,
        "whsec_wrong",
        undefined,
        undefined,
        T0 * 1000,
      ),
    ).toThrow(Stripe.errors.StripeSignatureVerificationError);
  });
});
