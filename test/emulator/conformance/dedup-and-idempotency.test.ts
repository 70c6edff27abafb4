import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { customerAndMeter, manualClock, rejectionOf } from "../helpers.ts";
import { setup, T0, usageParams } from "./support.ts";

const HOUR = 60 * 60;

describe("stripe-facts: Dedup and idempotency", () => {
  it('identifier: "a repeat is rejected: 400 invalid_request_error, message \\"An event already exists with identifier …\\", header Stripe-Should-Retry: false"', async () => {
    const { emu, stripe } = await setup();
    const { customer } = await customerAndMeter(stripe);
    await stripe.billing.meterEvents.create(usageParams(customer.id, "3", "evt-dup"));
    const error = await rejectionOf(
      stripe.billing.meterEvents.create(usageParams(customer.id, "3", "evt-dup")),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    const e = error as Stripe.errors.StripeError;
    expect(e.statusCode).toBe(400);
    expect(e.message).toBe("An event already exists with identifier evt-dup.");
    expect(e.raw).toMatchObject({ type: "invalid_request_error" });
    expect(e.headers?.["stripe-should-retry"]).toBe("false");
    expect(emu.ledger().totals).toEqual([
      { customer: customer.id, event_name: "api_requests", value: 3 },
    ]);
  });

  it('identifier: "uniqueness is enforced for at least 24 hours" (the emulator forgets at exactly 24 h)', async () => {
    const clock = manualClock(T0 * 1000);
    const { emu, stripe } = await setup({}, { clock });
    const { customer } = await customerAndMeter(stripe);
    const params = usageParams(customer.id, "1", "evt-old");
    await stripe.billing.meterEvents.create(params);
    emu.advanceClock(24 * HOUR - 1);
    await rejectionOf(stripe.billing.meterEvents.create(params));
    emu.advanceClock(1);
    await stripe.billing.meterEvents.create(params);
    expect(emu.ledger().events).toHaveLength(2);
  });

  it('idempotency: "the first response is stored including 500s and replayed (Idempotent-Replayed: true)"', async () => {
    const { emu, stripe } = await setup({ faults: { p500: 1 } });
    const { customer } = await customerAndMeter(stripe);
    const params = usageParams(customer.id, "1", "evt-500");
    const first = await rejectionOf(
      stripe.billing.meterEvents.create(params, { idempotencyKey: "key-500" }),
    );
    expect(first).toMatchObject({ statusCode: 500 });
    emu.setFaults({ p500: 0 });
    const replayed = (await rejectionOf(
      stripe.billing.meterEvents.create(params, { idempotencyKey: "key-500" }),
    )) as Stripe.errors.StripeError;
    expect(replayed).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(replayed.statusCode).toBe(500);
    expect(replayed.headers?.["idempotent-replayed"]).toBe("true");
    expect(replayed.requestId).toBe((first as Stripe.errors.StripeError).requestId);
    expect(emu.ledger().events).toEqual([]);

    const ok = await stripe.billing.meterEvents.create(params, { idempotencyKey: "key-ok" });
    const again = await stripe.billing.meterEvents.create(params, { idempotencyKey: "key-ok" });
    expect(again.lastResponse.headers["idempotent-replayed"]).toBe("true");
    expect(again.identifier).toBe(ok.identifier);
    expect(emu.ledger().events).toHaveLength(1);
  });

  it('idempotency: "same key with different parameters → 400 idempotency_error (SDK StripeIdempotencyError)"', async () => {
    const { stripe } = await setup();
    const { customer } = await customerAndMeter(stripe);
    await stripe.billing.meterEvents.create(usageParams(customer.id, "1"), {
      idempotencyKey: "key-a",
    });
    const error = await rejectionOf(
      stripe.billing.meterEvents.create(usageParams(customer.id, "2"), { idempotencyKey: "key-a" }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(error).toMatchObject({ statusCode: 400, rawType: "idempotency_error" });
  });

  it('idempotency: "a concurrent request with the same key → 409 idempotency_key_in_use"', async () => {
    const { emu, stripe } = await setup();
    const { customer } = await customerAndMeter(stripe);
    emu.setEndpointFaults("meter_events", { latencyMs: 300 });
    const params = usageParams(customer.id, "1", "evt-concurrent");
    const first = stripe.billing.meterEvents.create(params, { idempotencyKey: "key-c" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await rejectionOf(
      stripe.billing.meterEvents.create(params, { idempotencyKey: "key-c" }),
    );
    expect(second).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(second).toMatchObject({ statusCode: 409, code: "idempotency_key_in_use" });
    await first;
    expect(emu.ledger().events).toHaveLength(1);
  });

  it('idempotency: "rate limiting runs before the idempotency layer, so a 429 is not stored"', async () => {
    const { emu, stripe } = await setup({ faults: { p429: 1 } });
    const { customer } = await customerAndMeter(stripe);
    const params = usageParams(customer.id, "1");
    const limited = await rejectionOf(
      stripe.billing.meterEvents.create(params, { idempotencyKey: "key-429" }),
    );
    expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    emu.setFaults({ p429: 0 });
    const event = await stripe.billing.meterEvents.create(params, { idempotencyKey: "key-429" });
    expect(event.lastResponse.headers["idempotent-replayed"]).toBeUndefined();
    expect(emu.ledger().events).toHaveLength(1);
  });

  it('idempotency: "Idempotency-Key (v1 POST): ≤ 255 chars"', async () => {
    const { stripe } = await setup();
    await stripe.customers.create({}, { idempotencyKey: "k".repeat(255) });
    const error = await rejectionOf(
      stripe.customers.create({}, { idempotencyKey: "k".repeat(256) }),
    );
    expect(error).toMatchObject({ statusCode: 400, type: "StripeInvalidRequestError" });
  });

  it('idempotency: "kept ≥ 24 h" (pruned by the emulator clock at 24 h; the key then executes anew)', async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const a = await stripe.customers.create({ name: "A" }, { idempotencyKey: "key-day" });
    emu.advanceClock(24 * HOUR - 1);
    const replay = await stripe.customers.create({ name: "A" }, { idempotencyKey: "key-day" });
    expect(replay.id).toBe(a.id);
    emu.advanceClock(1);
    const fresh = await stripe.customers.create({ name: "A" }, { idempotencyKey: "key-day" });
    expect(fresh.id).not.toBe(a.id);
  });

  it('idempotency: "we save results only after the execution of an endpoint begins": a request that fails parameter validation is not stored', async () => {
    const { stripe } = await setup();
    const bad = { event_name: "", payload: { stripe_customer_id: "cus_x", value: "1" } };
    await rejectionOf(stripe.billing.meterEvents.create(bad, { idempotencyKey: "key-v" }));
    const again = await rejectionOf(
      stripe.billing.meterEvents.create(bad, { idempotencyKey: "key-v" }),
    );
    expect((again as Stripe.errors.StripeError).headers?.["idempotent-replayed"]).toBeUndefined();
  });

  it('adjustments: "meter event adjustments cancel one event by identifier, only within 24 h of receipt"', async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const { customer } = await customerAndMeter(stripe);
    await stripe.billing.meterEvents.create(usageParams(customer.id, "5", "evt-keep"));
    await stripe.billing.meterEvents.create(usageParams(customer.id, "7", "evt-cancel"));
    await stripe.billing.meterEvents.create(usageParams(customer.id, "9", "evt-late"));
    emu.advanceClock(HOUR);
    const adjustment = await stripe.billing.meterEventAdjustments.create({
      event_name: "api_requests",
      type: "cancel",
      cancel: { identifier: "evt-cancel" },
    });
    expect(adjustment).toMatchObject({
      object: "billing.meter_event_adjustment",
      cancel: { identifier: "evt-cancel" },
      event_name: "api_requests",
      livemode: false,
      type: "cancel",
    });
    expect(emu.ledger().totals).toEqual([
      { customer: customer.id, event_name: "api_requests", value: 14 },
    ]);
    emu.advanceClock(23 * HOUR);
    const late = await rejectionOf(
      stripe.billing.meterEventAdjustments.create({
        event_name: "api_requests",
        type: "cancel",
        cancel: { identifier: "evt-late" },
      }),
    );
    expect(late).toMatchObject({ statusCode: 400 });
    expect(emu.ledger().totals[0]?.value).toBe(14);
  });
});
