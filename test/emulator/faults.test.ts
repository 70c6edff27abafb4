import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { admin, customerAndMeter, rejectionOf, replay, setup } from "./helpers.ts";

/** One usage request for `customer`, with a fixed identifier. */
function usage(stripe: Stripe, customer: string, identifier = "evt-1") {
  return stripe.billing.meterEvents.create({
    event_name: "api_requests",
    payload: { stripe_customer_id: customer, value: "1" },
    identifier,
  });
}

describe("fault injection on the usage endpoint", () => {
  it("p500=1 answers 500 and applies nothing", async () => {
    const { emu, stripe } = await setup({ faults: { p500: 1 } });
    const { customer } = await customerAndMeter(stripe);
    const error = await rejectionOf(usage(stripe, customer.id));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error).toMatchObject({ statusCode: 500, rawType: "api_error" });
    expect(emu.ledger().events).toEqual([]);
    // Nothing applied means the identifier is still free.
    emu.setFaults({ p500: 0 });
    await usage(stripe, customer.id);
    expect(emu.ledger().totals).toEqual([
      { customer: customer.id, event_name: "api_requests", value: 1 },
    ]);
  });

  it("p429=1 answers 429 (StripeRateLimitError)", async () => {
    const { emu, stripe } = await setup({ faults: { p429: 1 } });
    const { customer } = await customerAndMeter(stripe);
    const error = await rejectionOf(usage(stripe, customer.id));
    expect(error).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(error).toMatchObject({ statusCode: 429, code: "rate_limit" });
    expect(emu.ledger().events).toEqual([]);
  });

  it("pAmbiguous=1 applies the event exactly once, whatever the client saw", async () => {
    const { emu, stripe } = await setup({ faults: { pAmbiguous: 1 } });
    const { customer } = await customerAndMeter(stripe);
    // Either a 500, or a dropped connection that stripe-node retries once by itself with the
    // same Idempotency-Key, which the idempotency layer answers with the stored success.
    await usage(stripe, customer.id).catch((error: unknown) => error);
    emu.setFaults({ pAmbiguous: 0 });
    const resend = await rejectionOf(usage(stripe, customer.id));
    expect(resend).toMatchObject({ statusCode: 400, headers: { "stripe-should-retry": "false" } });
    expect(emu.ledger().events).toHaveLength(1);
    expect(emu.ledger().totals).toEqual([
      { customer: customer.id, event_name: "api_requests", value: 1 },
    ]);
  });

  it("an ambiguous 500 has applied the event", async () => {
    // Draws: latency, outcome (0 → inside the ambiguous band), kind (≥ 0.5 → answer 500).
    const { emu, stripe } = await setup(
      { faults: { pAmbiguous: 1 } },
      { random: replay(0.5, 0, 0.9) },
    );
    const { customer } = await customerAndMeter(stripe);
    const error = await rejectionOf(usage(stripe, customer.id));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error).toMatchObject({ statusCode: 500 });
    expect(emu.ledger().events).toHaveLength(1);
  });

  it("an ambiguous drop closes the socket unanswered; stripe-node's own retry replays the stored success", async () => {
    // First request: ambiguous, kind < 0.5 → drop. stripe-node retries a closed connection once
    // even with maxNetworkRetries 0, with the same Idempotency-Key: the layer replays the
    // success the server stored before the connection was lost, and applies nothing twice.
    const random = replay(0.5, 0, 0.1, 0.5, 0.99, 0.99);
    const { emu, stripe } = await setup({ faults: { pAmbiguous: 0.5 } }, { random });
    const { customer } = await customerAndMeter(stripe);
    const event = await stripe.billing.meterEvents.create({
      event_name: "api_requests",
      payload: { stripe_customer_id: customer.id, value: "1" },
    });
    expect(event.lastResponse.headers["idempotent-replayed"]).toBe("true");
    expect(emu.ledger().events).toHaveLength(1);
    expect(emu.ledger().events[0]?.identifier).toBe(event.identifier);
  });

  it("latency delays the usage endpoint by latencyMs", async () => {
    const { stripe } = await setup({ faults: { latencyMs: 200 } });
    const { customer } = await customerAndMeter(stripe);
    const started = performance.now();
    await usage(stripe, customer.id);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });

  it("faults never touch customer and meter management", async () => {
    const { stripe } = await setup({ faults: { p500: 1, p429: 1, pAmbiguous: 1 } });
    const { customer, meter } = await customerAndMeter(stripe);
    expect(customer.object).toBe("customer");
    expect(meter.object).toBe("billing.meter");
  });
});

describe("fault settings", () => {
  it("faults given at start are reported by faults()", async () => {
    const { emu } = await setup({ faults: { p500: 0.25, latencyMs: 5 } });
    expect(emu.faults()).toEqual({
      latencyMs: 5,
      latencyJitterMs: 0,
      p500: 0.25,
      pAmbiguous: 0,
      p429: 0,
      pLockTimeout: 0,
      pTimeout: 0,
    });
  });

  it("faults are read and changed through the admin route", async () => {
    const { emu } = await setup();
    const set = await admin(emu, "/_emulator/faults", { p429: 0.5, latencyJitterMs: 10 });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({ p429: 0.5, latencyJitterMs: 10, p500: 0 });
    const read = await admin(emu, "/_emulator/faults");
    expect(read.json).toEqual(emu.faults());
  });

  it("an invalid fault setting is rejected with 400 and changes nothing", async () => {
    const { emu } = await setup();
    for (const body of [{ p500: 2 }, { latencyMs: -1 }, { pBogus: 0.1 }, { p429: "half" }]) {
      const res = await admin(emu, "/_emulator/faults", body);
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ error: { type: "invalid_request_error" } });
    }
    expect(emu.faults()).toMatchObject({ p500: 0, latencyMs: 0, p429: 0 });
  });

  it("setFaults throws on an invalid value", async () => {
    const { emu } = await setup();
    expect(() => emu.setFaults({ pAmbiguous: 1.5 })).toThrow();
  });
});
