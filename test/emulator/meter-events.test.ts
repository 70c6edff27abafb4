import { describe, expect, it } from "vitest";
import { customerAndMeter, manualClock, rejectionOf, setup } from "./helpers.ts";

const NOW_MS = Date.UTC(2026, 10, 24, 12, 0, 0);
const NOW = NOW_MS / 1000;

describe("meter events: accepted and counted", () => {
  it("an event for a known customer and active meter is counted in the ledger", async () => {
    const { emu, stripe } = await setup();
    const { customer } = await customerAndMeter(stripe);
    const event = await stripe.billing.meterEvents.create({
      event_name: "api_requests",
      payload: { stripe_customer_id: customer.id, value: "25" },
      identifier: "evt-1",
    });
    expect(event).toMatchObject({
      object: "billing.meter_event",
      event_name: "api_requests",
      identifier: "evt-1",
      livemode: false,
      payload: { stripe_customer_id: customer.id, value: "25" },
    });
    expect(event).not.toHaveProperty("id");
    await stripe.billing.meterEvents.create({
      event_name: "api_requests",
      payload: { stripe_customer_id: customer.id, value: "5" },
    });
    expect(emu.ledger().totals).toEqual([
      { customer: customer.id, event_name: "api_requests", value: 30 },
    ]);
  });

  it("the timestamp defaults to now and created is now", async () => {
    const { stripe } = await setup({}, { clock: manualClock(NOW_MS) });
    const { customer } = await customerAndMeter(stripe);
    const event = await stripe.billing.meterEvents.create({
      event_name: "api_requests",
      payload: { stripe_customer_id: customer.id, value: "1" },
    });
    expect(event).toMatchObject({ created: NOW, timestamp: NOW });
  });

  it("an event without identifier gets a generated one", async () => {
    const { emu, stripe } = await setup();
    const { customer } = await customerAndMeter(stripe);
    const event = await stripe.billing.meterEvents.create({
      event_name: "api_requests",
      payload: { stripe_customer_id: customer.id, value: "1" },
    });
    expect(event.identifier).toMatch(/^[0-9a-f-]{36}$/);
    expect(emu.ledger().events.map((e) => e.identifier)).toEqual([event.identifier]);
  });

  it("a meter's own payload keys are used to find the customer and value", async () => {
    const { emu, stripe } = await setup();
    const customer = await stripe.customers.create({});
    await stripe.billing.meters.create({
      display_name: "Tokens",
      event_name: "tokens",
      default_aggregation: { formula: "sum" },
      customer_mapping: { event_payload_key: "account", type: "by_id" },
      value_settings: { event_payload_key: "tokens" },
    });
    await stripe.billing.meterEvents.create({
      event_name: "tokens",
      payload: { account: customer.id, tokens: "7" },
    });
    expect(emu.ledger().totals).toEqual([
      { customer: customer.id, event_name: "tokens", value: 7 },
    ]);
  });

  it("the ledger admin route shows the same data as ledger()", async () => {
    const { emu, stripe } = await setup();
    const { customer } = await customerAndMeter(stripe);
    await stripe.billing.meterEvents.create({
      event_name: "api_requests",
      payload: { stripe_customer_id: customer.id, value: "2" },
    });
    const res = await fetch(`${emu.url}/_emulator/ledger`);
    expect(await res.json()).toEqual(emu.ledger());
  });
});

describe("meter events: accepted but never counted", () => {
  it("an event for an unknown customer is accepted but never counted", async () => {
    const { emu, stripe } = await setup();
    await customerAndMeter(stripe);
    const event = await stripe.billing.meterEvents.create({
      event_name: "api_requests",
      payload: { stripe_customer_id: "cus_unknown", value: "4" },
      identifier: "evt-unknown-customer",
    });
    expect(event.identifier).toBe("evt-unknown-customer");
    const ledger = emu.ledger();
    expect(ledger.totals).toEqual([]);
    expect(ledger.events).toEqual([
      expect.objectContaining({
        identifier: "evt-unknown-customer",
        customer: "cus_unknown",
        value: 4,
        counted: false,
        reason: "meter_event_customer_not_found",
      }),
    ]);
  });

  it("an event for a deleted customer is accepted but never counted", async () => {
    const { emu, stripe } = await setup();
    const { customer } = await customerAndMeter(stripe);
    await stripe.customers.del(customer.id);
    await stripe.billing.meterEvents.create({
      event_name: "api_requests",
      payload: { stripe_customer_id: customer.id, value: "4" },
    });
    expect(emu.ledger().totals).toEqual([]);
    expect(emu.ledger().events[0]).toMatchObject({
      counted: false,
      reason: "meter_event_customer_not_found",
    });
  });

  it("an event with no meter for its event_name is accepted but never counted (no_meter)", async () => {
    const { emu, stripe } = await setup();
    const customer = await stripe.customers.create({});
    await stripe.billing.meterEvents.create({
      event_name: "nobody_meters_this",
      payload: { stripe_customer_id: customer.id, value: "4" },
    });
    expect(emu.ledger().totals).toEqual([]);
    expect(emu.ledger().events[0]).toMatchObject({ counted: false, reason: "no_meter" });
  });

  it("an event for a deactivated meter is accepted but never counted (archived_meter)", async () => {
    const { emu, stripe } = await setup();
    const { customer, meter } = await customerAndMeter(stripe);
    await stripe.billing.meters.deactivate(meter.id);
    await stripe.billing.meterEvents.create({
      event_name: "api_requests",
      payload: { stripe_customer_id: customer.id, value: "4" },
    });
    expect(emu.ledger().totals).toEqual([]);
    expect(emu.ledger().events[0]).toMatchObject({ counted: false, reason: "archived_meter" });
  });

  it("an uncounted event still takes its identifier", async () => {
    const { stripe } = await setup();
    const params = {
      event_name: "nobody_meters_this",
      payload: { stripe_customer_id: "cus_unknown", value: "1" },
      identifier: "evt-taken",
    };
    await stripe.billing.meterEvents.create(params);
    expect(await rejectionOf(stripe.billing.meterEvents.create(params))).toMatchObject({
      statusCode: 400,
      message: "An event already exists with identifier evt-taken.",
    });
  });
});
