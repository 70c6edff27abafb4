import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { clientFor, customerAndMeter, manualClock, rejectionOf } from "../helpers.ts";
import { setup, streamClient, T0, usageParams } from "./support.ts";

describe("stripe-facts: Rate limits", () => {
  it('rate limits: "test mode and sandboxes 25/s … in test mode both [meter events and the stream] count toward 25/s"', async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const { customer } = await customerAndMeter(stripe);
    const session = await stripe.v2.billing.meterEventSession.create();
    emu.setRateLimits({ mode: "test" });
    for (let i = 0; i < 20; i++) await stripe.billing.meterEvents.create(usageParams(customer.id));
    const stream = streamClient(emu, session.authentication_token);
    const events = [{ event_name: "api_requests", payload: usageParams(customer.id).payload }];
    for (let i = 0; i < 5; i++) await stream.v2.billing.meterEventStream.create({ events });
    const v1 = await rejectionOf(stripe.billing.meterEvents.create(usageParams(customer.id)));
    expect(v1).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(v1).toMatchObject({ statusCode: 429, code: "rate_limit" });
    const v2 = await rejectionOf(stream.v2.billing.meterEventStream.create({ events }));
    expect(v2).toBeInstanceOf(Stripe.errors.RateLimitError);
    emu.advanceClock(1);
    await stripe.billing.meterEvents.create(usageParams(customer.id));
    expect(emu.ledger().events).toHaveLength(26);
  });

  it('rate limits: "Meter events v1: 1,000/s live, separate from the general limit" (general: live 100 operations/s)', async () => {
    const { emu } = await setup(
      {
        apiKeys: ["sk_live_conformance"],
        rateLimits: { mode: "auto", meterEvents: 30, general: 10, perEndpoint: 10 },
      },
      { clock: manualClock(T0 * 1000) },
    );
    const live = clientFor(emu, "sk_live_conformance");
    const { customer } = await customerAndMeter(live);
    for (let i = 0; i < 8; i++) await live.customers.retrieve(customer.id);
    expect(await rejectionOf(live.customers.retrieve(customer.id))).toBeInstanceOf(
      Stripe.errors.StripeRateLimitError,
    );
    for (let i = 0; i < 30; i++) await live.billing.meterEvents.create(usageParams(customer.id));
    expect(
      await rejectionOf(live.billing.meterEvents.create(usageParams(customer.id))),
    ).toMatchObject({
      statusCode: 429,
      code: "rate_limit",
      rawType: "invalid_request_error",
    });
  });

  it("rate limits: off unless configured (the emulator's default)", async () => {
    const { stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    for (let i = 0; i < 40; i++) await stripe.customers.create({});
  });
});

describe("stripe-facts: Errors (HTTP status → stripe-node class)", () => {
  it('errors: "429 rate limit; also lock_timeout" → StripeRateLimitError, lock_timeout with Stripe-Should-Retry: true', async () => {
    const { emu, stripe } = await setup();
    const { customer } = await customerAndMeter(stripe);
    emu.setEndpointFaults("meter_events", { pLockTimeout: 1 });
    const error = await rejectionOf(stripe.billing.meterEvents.create(usageParams(customer.id)));
    expect(error).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(error).toMatchObject({ statusCode: 429, code: "lock_timeout" });
    expect((error as Stripe.errors.StripeError).headers?.["stripe-should-retry"]).toBe("true");
    expect(emu.ledger().events).toEqual([]);
  });

  it('errors: "500 … Stripe-side failure → StripeAPIError", stored under the key and marked Stripe-Should-Retry: false (stripe-node: "we expect the stripe-should-retry header to be false in most cases when a 500 is returned")', async () => {
    const { stripe } = await setup({ faults: { p500: 1 } });
    const { customer } = await customerAndMeter(stripe);
    const error = await rejectionOf(stripe.billing.meterEvents.create(usageParams(customer.id)));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error).toMatchObject({ statusCode: 500, rawType: "api_error" });
    expect((error as Stripe.errors.StripeError).headers?.["stripe-should-retry"]).toBe("false");
  });

  it('errors: "network error or timeout → StripeConnectionError" (timeout fault: applied, never answered)', async () => {
    const { emu } = await setup({ faults: { pTimeout: 1 } });
    const stripe = new Stripe(emu.apiKey, {
      host: "127.0.0.1",
      port: emu.port,
      protocol: "http",
      maxNetworkRetries: 0,
      timeout: 300,
    });
    const { customer } = await customerAndMeter(stripe);
    const error = await rejectionOf(
      stripe.billing.meterEvents.create(usageParams(customer.id, "1", "slow"), {
        idempotencyKey: "slow-key",
      }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(emu.ledger().events).toHaveLength(1);
    emu.setFaults({ pTimeout: 0 });
    const replay = await stripe.billing.meterEvents.create(usageParams(customer.id, "1", "slow"), {
      idempotencyKey: "slow-key",
    });
    expect(replay.lastResponse.headers["idempotent-replayed"]).toBe("true");
  });
});
