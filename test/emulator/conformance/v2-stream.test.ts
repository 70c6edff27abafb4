import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { clientFor, customerAndMeter, manualClock, rejectionOf } from "../helpers.ts";
import { setup, streamClient, T0 } from "./support.ts";

const iso = (unix: number) => new Date(unix * 1000).toISOString();

describe("stripe-facts: Which API reports usage — v2 stream", () => {
  it('v2 stream: "POST /v2/billing/meter_event_session → {authentication_token, expires_at, …}, token valid 15 minutes"', async () => {
    const { stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const session: Stripe.V2.Billing.MeterEventSession =
      await stripe.v2.billing.meterEventSession.create();
    expect(session).toMatchObject({
      object: "v2.billing.meter_event_session",
      livemode: false,
      created: iso(T0),
      expires_at: iso(T0 + 15 * 60),
    });
    expect(session.authentication_token).toEqual(expect.any(String));
    expect(session.id).toEqual(expect.any(String));
  });

  it('v2 stream: "a client made with the token calls v2.billing.meterEventStream.create({events}) … response {}" (the host override applies to the stream host)', async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const { customer } = await customerAndMeter(stripe);
    const session = await stripe.v2.billing.meterEventSession.create();
    const stream = streamClient(emu, session.authentication_token);
    const result = await stream.v2.billing.meterEventStream.create({
      events: [
        {
          event_name: "api_requests",
          payload: { stripe_customer_id: customer.id, value: "4" },
          identifier: "s-1",
          timestamp: iso(T0 - 60),
        },
        { event_name: "api_requests", payload: { stripe_customer_id: customer.id, value: "6" } },
      ],
    });
    expect(result as unknown).toEqual({});
    expect(emu.ledger().totals).toEqual([
      { customer: customer.id, event_name: "api_requests", value: 10 },
    ]);
  });

  it('v2 stream: "≤ 100 events per request" (checked at once)', async () => {
    const { emu, stripe } = await setup();
    const session = await stripe.v2.billing.meterEventSession.create();
    const stream = streamClient(emu, session.authentication_token);
    const event = {
      event_name: "api_requests",
      payload: { stripe_customer_id: "cus_x", value: "1" },
    };
    const error = await rejectionOf(
      stream.v2.billing.meterEventStream.create({ events: Array(101).fill(event) }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400 });
    expect(emu.ledger().events).toEqual([]);
  });

  it('v2 stream: "expired token → 401 billing_meter_event_session_expired (SDK: TemporarySessionExpiredError)"', async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const session = await stripe.v2.billing.meterEventSession.create();
    const stream = streamClient(emu, session.authentication_token);
    const events = [
      { event_name: "api_requests", payload: { stripe_customer_id: "cus_x", value: "1" } },
    ];
    emu.advanceClock(15 * 60 - 1);
    await stream.v2.billing.meterEventStream.create({ events });
    emu.advanceClock(1);
    const error = await rejectionOf(stream.v2.billing.meterEventStream.create({ events }));
    expect(error).toBeInstanceOf(Stripe.errors.TemporarySessionExpiredError);
    expect(error).toMatchObject({ statusCode: 401, code: "billing_meter_event_session_expired" });
  });

  it('v2 stream: "validation is entirely asynchronous": bad events are accepted with {} and never counted, each with its reason', async () => {
    const { emu, stripe } = await setup({}, { clock: manualClock(T0 * 1000) });
    const { customer } = await customerAndMeter(stripe);
    const session = await stripe.v2.billing.meterEventSession.create();
    const stream = streamClient(emu, session.authentication_token);
    const ok = { stripe_customer_id: customer.id, value: "1" };
    await stream.v2.billing.meterEventStream.create({
      events: [
        { event_name: "api_requests", payload: ok, identifier: "dup" },
        { event_name: "api_requests", payload: ok, identifier: "dup" },
        { event_name: "api_requests", payload: ok, timestamp: iso(T0 - 36 * 86_400) },
        { event_name: "api_requests", payload: ok, timestamp: iso(T0 + 301) },
        { event_name: "api_requests", payload: { value: "1" } },
        { event_name: "api_requests", payload: { stripe_customer_id: customer.id, value: "1.5" } },
        { event_name: "api_requests", payload: { stripe_customer_id: "cus_nobody", value: "1" } },
        { event_name: "unmetered", payload: ok },
      ],
    });
    const ledger = emu.ledger();
    expect(ledger.totals).toEqual([
      { customer: customer.id, event_name: "api_requests", value: 1 },
    ]);
    expect(ledger.events.map((e) => e.reason)).toEqual([
      null,
      "duplicate_identifier",
      "timestamp_too_far_in_past",
      "timestamp_in_future",
      "meter_event_no_customer_defined",
      "meter_event_invalid_value",
      "meter_event_customer_not_found",
      "no_meter",
    ]);
  });
  it('v2 errors carry a code, as the document\'s v2.error requires ("code" and "message"), and keep the SDK class their status gives', async () => {
    // Fault draws: latency, outcome, ambiguous kind; 0.9 ≥ 0.5 answers an ambiguous fault 500.
    const { emu, stripe } = await setup({}, { random: () => 0.9 });
    const unauthenticated = await rejectionOf(
      clientFor(emu, "sk_test_unknown").v2.billing.meterEventSession.create(),
    );
    expect(unauthenticated).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(unauthenticated).toMatchObject({ statusCode: 401, code: "unauthenticated" });

    const unknownToken = await rejectionOf(
      streamClient(emu, "ek_test_unknown").v2.billing.meterEventStream.create({ events: [] }),
    );
    expect(unknownToken).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(unknownToken).toMatchObject({ statusCode: 401, code: "unauthenticated" });

    const session = await stripe.v2.billing.meterEventSession.create();
    const unparsable = await fetch(`${emu.url}/v2/billing/meter_event_stream`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${session.authentication_token}`,
        "content-type": "application/json",
      },
      body: "{",
    });
    expect(unparsable.status).toBe(400);
    expect(await unparsable.json()).toMatchObject({
      error: { type: "invalid_request_error", code: "invalid_request" },
    });

    emu.setEndpointFaults("meter_event_stream", { p500: 1 });
    const failed = await rejectionOf(
      streamClient(emu, session.authentication_token).v2.billing.meterEventStream.create({
        events: [{ event_name: "api_requests", payload: { stripe_customer_id: "c", value: "1" } }],
      }),
    );
    expect(failed).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(failed).toMatchObject({ statusCode: 500, code: "internal_error" });
    // Applied, then answered 500: the 500 replaces a success after the error handler ran.
    emu.setEndpointFaults("meter_event_stream", { p500: 0, pAmbiguous: 1 });
    const appliedThenFailed = await rejectionOf(
      streamClient(emu, session.authentication_token).v2.billing.meterEventStream.create({
        events: [{ event_name: "api_requests", payload: { stripe_customer_id: "c", value: "1" } }],
      }),
    );
    expect(appliedThenFailed).toMatchObject({ statusCode: 500, code: "internal_error" });
    expect(emu.ledger().events).toHaveLength(1);

    const unknownUrl = await rejectionOf(stripe.rawRequest("GET", "/v2/billing/nothing_here"));
    expect(unknownUrl).toMatchObject({ statusCode: 404, code: "not_found" });
    expect((unknownUrl as Error).message).toMatch(/^Unrecognized request URL/);
  });
});
