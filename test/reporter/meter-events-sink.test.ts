import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classify } from "../../src/reporter/classify.ts";
import { fromMeterEvents } from "../../src/reporter/sinks/meter-events.ts";
import type { OutboundEvent, UsageSink } from "../../src/reporter/sinks/port.ts";
import { createStripeClient } from "../../src/reporter/stripe-client.ts";
import { emulator, KEY } from "./harness.ts";

let n = 0;
/** A fresh outbound event (a new identifier each time unless given). */
function outbound(customer: string, overrides: Partial<OutboundEvent> = {}): OutboundEvent {
  n++;
  return {
    id: `sink-${n}`,
    identifier: `sink-${n}`,
    eventName: "sink_calls",
    stripeCustomerId: customer,
    value: 5,
    occurredAt: new Date(Date.now() - 60_000),
    customerPayloadKey: "stripe_customer_id",
    valuePayloadKey: "value",
    ...overrides,
  };
}

// How stripe-node 23 surfaces each answer, through the real SDK against the emulator.
describe("fromMeterEvents describes every answer as a SendResult", () => {
  let env: Awaited<ReturnType<typeof emulator>>;
  let sink: UsageSink;
  let customer: string;
  beforeAll(async () => {
    env = await emulator();
    sink = fromMeterEvents(env.stripe);
    await env.stripe.billing.meters.create({
      display_name: "sink",
      event_name: "sink_calls",
      default_aggregation: { formula: "sum" },
    });
    customer = (await env.stripe.customers.create({ name: "sink" })).id;
  });
  afterAll(() => env.emu.close());

  it("200: ok with the Request-Id, and the ledger counts the value at the event's own time", async () => {
    const event = outbound(customer);
    const result = await sink.send(event);
    expect(result).toMatchObject({ kind: "ok", status: 200 });
    if (result.kind !== "ok") throw new Error("expected ok");
    expect(result.requestId).toMatch(/^req_/);
    const held = env.emu.ledger().events.find((e) => e.identifier === event.identifier);
    expect(held).toMatchObject({
      customer,
      value: 5,
      timestamp: Math.floor(event.occurredAt.getTime() / 1000),
    });
  });

  it("starts a request without capturing the caller's stack", async () => {
    // Every stack V8 formats while the request starts, with the frames it captured.
    const formatted: number[] = [];
    const original = Error.prepareStackTrace;
    Error.prepareStackTrace = (err, frames) => {
      formatted.push(frames.length);
      return original ? original(err, frames) : `${err}`;
    };
    let result: Awaited<ReturnType<UsageSink["send"]>>;
    try {
      result = await sink.send(outbound(customer));
    } finally {
      Error.prepareStackTrace = original;
    }
    expect(result).toMatchObject({ kind: "ok", status: 200 });
    // stripe-node formats the call site's stack on every request: here with no frames in it.
    expect(formatted.length).toBeGreaterThan(0);
    expect(formatted.filter((frames) => frames > 0)).toEqual([]);
    expect(Error.stackTraceLimit).toBeGreaterThan(0);
  });

  it("a repeated identifier: 400 with Stripe-Should-Retry false, classified as delivered", async () => {
    const event = outbound(customer);
    await sink.send(event);
    const again = await sink.send(event);
    expect(again).toMatchObject({ kind: "http_error", status: 400, shouldRetry: false });
    expect(classify(again)).toMatchObject({ kind: "delivered", duplicate: true });
  });

  it("an identifier over 100 chars: 400 naming the param, classified as an event-scope rejection", async () => {
    const long = "y".repeat(120);
    const result = await sink.send(outbound(customer, { id: long, identifier: long }));
    expect(result).toMatchObject({ kind: "http_error", status: 400, param: "identifier" });
    expect(classify(result)).toMatchObject({ kind: "rejected", scope: "event" });
  });

  it("a revoked key: 401, classified as an account halt", async () => {
    env.emu.revokeKey(KEY);
    try {
      const result = await sink.send(outbound(customer));
      expect(result).toMatchObject({ kind: "http_error", status: 401 });
      expect(classify(result).kind).toBe("halt");
    } finally {
      env.emu.restoreKey(KEY);
    }
  });

  it("429 and 500 carry status, code and Request-Id; classified throttled and ambiguous retry", async () => {
    env.emu.setFaults({ p429: 1 });
    const limited = await sink.send(outbound(customer));
    env.emu.setFaults({ p429: 0, p500: 1 });
    const failed = await sink.send(outbound(customer));
    env.emu.setFaults({ p500: 0 });
    expect(limited).toMatchObject({ kind: "http_error", status: 429, code: "rate_limit" });
    expect(classify(limited).kind).toBe("throttled");
    expect(failed).toMatchObject({ kind: "http_error", status: 500, type: "api_error" });
    if (failed.kind !== "http_error") throw new Error("expected an http error");
    expect(failed.requestId).toMatch(/^req_/);
    expect(classify(failed)).toMatchObject({ kind: "retry", ambiguous: true });
  });

  it("a client timeout is a network result marked timeout", async () => {
    const slow = createStripeClient({ secretKey: KEY, apiBase: env.emu.url, timeoutMs: 100 });
    env.emu.setFaults({ latencyMs: 400 });
    try {
      const result = await fromMeterEvents(slow).send(outbound(customer));
      expect(result).toMatchObject({ kind: "network", timeout: true });
      expect(classify(result)).toMatchObject({ kind: "retry", ambiguous: true });
    } finally {
      env.emu.setFaults({ latencyMs: 0 });
    }
  });

  it("nothing listening: a network result (StripeConnectionError), not a throw", async () => {
    const closed = await emulator();
    await closed.emu.close();
    const result = await fromMeterEvents(closed.stripe).send(outbound(customer));
    expect(result).toMatchObject({ kind: "network", timeout: false });
  });
});
