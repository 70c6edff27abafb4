import { describe, expect, it } from "vitest";
import { rejectionOf, setup } from "./helpers.ts";

describe("billing meters", () => {
  it("a meter is created with Stripe's defaults and shape", async () => {
    const { stripe } = await setup();
    const meter = await stripe.billing.meters.create({
      display_name: "API requests",
      event_name: "api_requests",
      default_aggregation: { formula: "sum" },
    });
    expect(meter.id).toMatch(/^mtr_test_/);
    expect(meter).toMatchObject({
      object: "billing.meter",
      customer_mapping: { event_payload_key: "stripe_customer_id", type: "by_id" },
      default_aggregation: { formula: "sum" },
      display_name: "API requests",
      event_name: "api_requests",
      event_time_window: null,
      livemode: false,
      status: "active",
      status_transitions: { deactivated_at: null },
      value_settings: { event_payload_key: "value" },
    });
    expect(meter.updated).toBe(meter.created);
  });

  it("customer_mapping and value_settings set the payload key names", async () => {
    const { stripe } = await setup();
    const meter = await stripe.billing.meters.create({
      display_name: "Tokens",
      event_name: "tokens",
      default_aggregation: { formula: "count" },
      customer_mapping: { event_payload_key: "account", type: "by_id" },
      value_settings: { event_payload_key: "tokens" },
    });
    expect(meter.customer_mapping.event_payload_key).toBe("account");
    expect(meter.value_settings.event_payload_key).toBe("tokens");
    expect(meter.default_aggregation.formula).toBe("count");
  });

  it("an unknown aggregation formula is rejected with 400", async () => {
    const { stripe } = await setup();
    const error = await rejectionOf(
      stripe.billing.meters.create({
        display_name: "x",
        event_name: "x",
        default_aggregation: { formula: "max" },
      }),
    );
    expect(error).toMatchObject({ statusCode: 400, param: "default_aggregation[formula]" });
  });

  it("a meter without display_name is rejected with parameter_missing", async () => {
    const { stripe } = await setup();
    const error = await rejectionOf(
      stripe.billing.meters.create({
        display_name: "",
        event_name: "x",
        default_aggregation: { formula: "sum" },
      }),
    );
    expect(error).toMatchObject({
      statusCode: 400,
      code: "parameter_missing",
      param: "display_name",
    });
  });

  it("two active meters cannot share an event_name", async () => {
    const { stripe } = await setup();
    const params = {
      display_name: "x",
      event_name: "same",
      default_aggregation: { formula: "sum" as const },
    };
    await stripe.billing.meters.create(params);
    expect(await rejectionOf(stripe.billing.meters.create(params))).toMatchObject({
      statusCode: 400,
      param: "event_name",
    });
  });

  it("meters are listed newest first and retrieved by id", async () => {
    const { stripe } = await setup();
    const agg = { formula: "sum" as const };
    const a = await stripe.billing.meters.create({
      display_name: "a",
      event_name: "a",
      default_aggregation: agg,
    });
    const b = await stripe.billing.meters.create({
      display_name: "b",
      event_name: "b",
      default_aggregation: agg,
    });
    const list = await stripe.billing.meters.list();
    expect(list).toMatchObject({ object: "list", has_more: false, url: "/v1/billing/meters" });
    expect(list.data.map((m) => m.id)).toEqual([b.id, a.id]);
    expect((await stripe.billing.meters.retrieve(a.id)).event_name).toBe("a");
  });

  it("an unknown meter is 404 resource_missing", async () => {
    const { stripe } = await setup();
    const error = await rejectionOf(stripe.billing.meters.retrieve("mtr_nope"));
    expect(error).toMatchObject({ statusCode: 404, code: "resource_missing" });
  });

  it("a meter can be deactivated and reactivated", async () => {
    const { stripe } = await setup();
    const meter = await stripe.billing.meters.create({
      display_name: "x",
      event_name: "x",
      default_aggregation: { formula: "sum" },
    });
    const inactive = await stripe.billing.meters.deactivate(meter.id);
    expect(inactive.status).toBe("inactive");
    expect(inactive.status_transitions.deactivated_at).toEqual(expect.any(Number));
    expect((await stripe.billing.meters.list({ status: "active" })).data).toEqual([]);
    const active = await stripe.billing.meters.reactivate(meter.id);
    expect(active).toMatchObject({
      status: "active",
      status_transitions: { deactivated_at: null },
    });
  });
});
