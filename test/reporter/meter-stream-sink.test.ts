import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { classify } from "../../src/reporter/classify.ts";
import { fromMeterStream, STREAM_MAX_EVENTS } from "../../src/reporter/sinks/meter-stream.ts";
import type { OutboundEvent } from "../../src/reporter/sinks/port.ts";
import { emulator, KEY } from "./harness.ts";

let n = 0;
/** A fresh outbound event (a new identifier each time). */
function outbound(customer: string, overrides: Partial<OutboundEvent> = {}): OutboundEvent {
  n++;
  return {
    id: `stream-${n}`,
    identifier: `stream-${n}`,
    eventName: "stream_calls",
    stripeCustomerId: customer,
    value: 2,
    occurredAt: new Date(Date.now() - 60_000),
    customerPayloadKey: "stripe_customer_id",
    valuePayloadKey: "value",
    ...overrides,
  };
}

// The v2 stream adapter through the real SDK against the emulator.
describe("fromMeterStream", () => {
  let env: Awaited<ReturnType<typeof emulator>>;
  let customer: string;
  beforeAll(async () => {
    env = await emulator();
    await env.stripe.billing.meters.create({
      display_name: "stream",
      event_name: "stream_calls",
      default_aggregation: { formula: "sum" },
    });
    customer = (await env.stripe.customers.create({ name: "stream" })).id;
  });
  afterAll(() => env.emu.close());

  it("sends 100 events in one request, each with its identifier and its own time (RFC 3339)", async () => {
    const sink = fromMeterStream(env.stripe);
    expect(sink.maxBatch).toBe(STREAM_MAX_EVENTS);
    const events = Array.from({ length: 100 }, () => outbound(customer));
    const stream = vi.spyOn(env.stripe.v2.billing.meterEventStream, "create");
    const result = await sink.sendBatch?.(events);
    expect(result).toMatchObject({ kind: "ok", status: 200 });
    expect(stream).toHaveBeenCalledTimes(1);
    stream.mockRestore();
    const ledger = env.emu.ledger();
    for (const e of events) {
      expect(ledger.events.find((l) => l.identifier === e.identifier)).toMatchObject({
        customer,
        value: 2,
        counted: true,
        timestamp: Math.floor(e.occurredAt.getTime() / 1000),
      });
    }
  });

  it("refuses to build a request of more than 100 events", async () => {
    const sink = fromMeterStream(env.stripe);
    const events = Array.from({ length: 101 }, () => outbound(customer));
    await expect(sink.sendBatch?.(events)).rejects.toThrow(/at most 100/);
  });

  it("shares one session across requests, and refreshes it ahead of its 15 minutes", async () => {
    let now = Date.now();
    const sink = fromMeterStream(env.stripe, { now: () => now });
    const sessions = vi.spyOn(env.stripe.v2.billing.meterEventSession, "create");
    try {
      await Promise.all([sink.send(outbound(customer)), sink.send(outbound(customer))]);
      await sink.send(outbound(customer));
      expect(sessions).toHaveBeenCalledTimes(1);
      now += 11 * 60_000; // 73 % of the lifetime: still the same session
      await sink.send(outbound(customer));
      expect(sessions).toHaveBeenCalledTimes(1);
      now += 2 * 60_000; // 87 %: refreshed before Stripe would refuse it
      expect(await sink.send(outbound(customer))).toMatchObject({ kind: "ok" });
      expect(sessions).toHaveBeenCalledTimes(2);
    } finally {
      sessions.mockRestore();
    }
  });

  it("a session Stripe says expired (its clock ran ahead): refreshed and the batch resent in the same call", async () => {
    const sink = fromMeterStream(env.stripe);
    await sink.send(outbound(customer));
    const sessions = vi.spyOn(env.stripe.v2.billing.meterEventSession, "create");
    const stream = vi.spyOn(env.stripe.v2.billing.meterEventStream, "create");
    env.emu.advanceClock(15 * 60);
    try {
      const event = outbound(customer, { occurredAt: new Date(env.emu.now() * 1000 - 60_000) });
      expect(await sink.send(event)).toMatchObject({ kind: "ok" });
      expect(sessions).toHaveBeenCalledTimes(1);
      expect(stream).toHaveBeenCalledTimes(2);
      expect(env.emu.ledger().events.filter((e) => e.identifier === event.identifier)).toHaveLength(
        1,
      );
    } finally {
      env.emu.advanceClock(-15 * 60);
      sessions.mockRestore();
      stream.mockRestore();
    }
  });

  it("a revoked key fails the session create: 401, classified as an account halt", async () => {
    const sink = fromMeterStream(env.stripe);
    env.emu.revokeKey(KEY);
    try {
      const result = await sink.send(outbound(customer));
      expect(result).toMatchObject({ kind: "http_error", status: 401 });
      expect(classify(result).kind).toBe("halt");
    } finally {
      env.emu.restoreKey(KEY);
    }
  });
});
