import { describe, expect, it } from "vitest";
import { customerAndMeter, manualClock, rejectionOf, setup } from "./helpers.ts";

const NOW_MS = Date.UTC(2026, 10, 24, 12, 0, 0);
const NOW = NOW_MS / 1000;
const DAY = 24 * 60 * 60;

describe("meter events: rejected at once", () => {
  // The repeated identifier and its 24-hour window: conformance/dedup-and-idempotency.test.ts.
  it("a timestamp older than 35 days is rejected at once", async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(NOW_MS) });
    const { customer } = await customerAndMeter(stripe);
    const payload = { stripe_customer_id: customer.id, value: "1" };
    const error = await rejectionOf(
      stripe.billing.meterEvents.create({
        event_name: "api_requests",
        payload,
        timestamp: NOW - 35 * DAY - 1,
      }),
    );
    expect(error).toMatchObject({
      statusCode: 400,
      code: "timestamp_too_far_in_past",
      param: "timestamp",
    });
    // The boundary itself is inside the window.
    await stripe.billing.meterEvents.create({
      event_name: "api_requests",
      payload,
      timestamp: NOW - 35 * DAY,
    });
    expect(emu.ledger().events).toHaveLength(1);
  });

  it("a timestamp more than 5 minutes ahead is rejected at once", async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(NOW_MS) });
    const { customer } = await customerAndMeter(stripe);
    const payload = { stripe_customer_id: customer.id, value: "1" };
    const error = await rejectionOf(
      stripe.billing.meterEvents.create({
        event_name: "api_requests",
        payload,
        timestamp: NOW + 301,
      }),
    );
    expect(error).toMatchObject({
      statusCode: 400,
      code: "timestamp_in_future",
      param: "timestamp",
    });
    await stripe.billing.meterEvents.create({
      event_name: "api_requests",
      payload,
      timestamp: NOW + 300,
    });
    expect(emu.ledger().events).toHaveLength(1);
  });

  it("a missing event_name is rejected with parameter_missing", async () => {
    const { stripe } = await setup();
    const error = await rejectionOf(
      stripe.billing.meterEvents.create({
        event_name: "",
        payload: { stripe_customer_id: "cus_x", value: "1" },
      }),
    );
    expect(error).toMatchObject({
      statusCode: 400,
      code: "parameter_missing",
      param: "event_name",
    });
  });

  it("an event_name over 100 characters is rejected", async () => {
    const { stripe } = await setup();
    const error = await rejectionOf(
      stripe.billing.meterEvents.create({
        event_name: "e".repeat(101),
        payload: { stripe_customer_id: "cus_x", value: "1" },
      }),
    );
    expect(error).toMatchObject({ statusCode: 400, param: "event_name" });
    expect((error as Error).message).toMatch(/must be at most 100 characters/);
  });

  it("an identifier over 100 characters is rejected", async () => {
    const { stripe } = await setup();
    const error = await rejectionOf(
      stripe.billing.meterEvents.create({
        event_name: "api_requests",
        payload: { stripe_customer_id: "cus_x", value: "1" },
        identifier: "i".repeat(101),
      }),
    );
    expect(error).toMatchObject({ statusCode: 400, param: "identifier" });
  });

  it("a payload without the customer key is rejected (default key)", async () => {
    const { emu, stripe } = await setup();
    const error = await rejectionOf(
      stripe.billing.meterEvents.create({ event_name: "api_requests", payload: { value: "1" } }),
    );
    expect(error).toMatchObject({
      statusCode: 400,
      code: "meter_event_no_customer_defined",
      param: "payload[stripe_customer_id]",
      message: "Customer mapping key stripe_customer_id not found in payload.",
    });
    expect(emu.ledger().events).toEqual([]);
  });

  it("a payload without the meter's configured customer key is rejected", async () => {
    const { stripe } = await setup();
    await stripe.billing.meters.create({
      display_name: "x",
      event_name: "tokens",
      default_aggregation: { formula: "sum" },
      customer_mapping: { event_payload_key: "account", type: "by_id" },
    });
    const error = await rejectionOf(
      stripe.billing.meterEvents.create({
        event_name: "tokens",
        payload: { stripe_customer_id: "cus_x", value: "1" },
      }),
    );
    expect(error).toMatchObject({ statusCode: 400, param: "payload[account]" });
  });

  it("a payload without the value key is rejected", async () => {
    const { stripe } = await setup();
    const error = await rejectionOf(
      stripe.billing.meterEvents.create({
        event_name: "api_requests",
        payload: { stripe_customer_id: "cus_x" },
      }),
    );
    expect(error).toMatchObject({ statusCode: 400, param: "payload[value]" });
  });

  it("a value that is not a whole number is rejected", async () => {
    const { emu, stripe } = await setup();
    for (const value of ["1.5", "-1", "ten", "1e3"]) {
      const error = await rejectionOf(
        stripe.billing.meterEvents.create({
          event_name: "api_requests",
          payload: { stripe_customer_id: "cus_x", value },
        }),
      );
      expect(error).toMatchObject({
        statusCode: 400,
        code: "meter_event_invalid_value",
        param: "payload[value]",
      });
    }
    expect(emu.ledger().events).toEqual([]);
  });
});
