import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classify } from "../../src/reporter/classify.ts";
import { decide } from "../../src/reporter/decide.ts";
import type { OutboundEvent, UsageSink } from "../../src/reporter/sinks/port.ts";
import { fromUsageRecords, usageRecordKey } from "../../src/reporter/sinks/usage-records.ts";
import { settings } from "./fixtures.ts";
import { emulator } from "./harness.ts";
import { subscribedItem } from "./subscriptions.ts";

let n = 0;
function outbound(item: string, overrides: Partial<OutboundEvent> = {}): OutboundEvent {
  n++;
  return {
    id: `ur-${n}`,
    identifier: `ur-${n}`,
    eventName: "records",
    stripeCustomerId: "cus_unused",
    value: 4,
    occurredAt: new Date(),
    customerPayloadKey: "stripe_customer_id",
    valuePayloadKey: "value",
    subscriptionItemId: item,
    ...overrides,
  };
}

// The legacy usage records adapter through the real SDK (rawRequest, pinned pre-basil version).
describe("fromUsageRecords", () => {
  let env: Awaited<ReturnType<typeof emulator>>;
  let sink: UsageSink;
  let item: string;
  beforeAll(async () => {
    env = await emulator();
    sink = fromUsageRecords(env.stripe);
    item = (await subscribedItem(env.stripe, "records")).item;
  });
  afterAll(() => env.emu.close());

  it("the Idempotency-Key is a pure function of the event id, within Stripe's 255 characters", () => {
    expect(usageRecordKey("evt-1")).toBe("meterline-ur-evt-1");
    expect(usageRecordKey("evt-1")).toBe(usageRecordKey("evt-1"));
    const long = usageRecordKey("x".repeat(300));
    expect(long.length).toBeLessThanOrEqual(255);
    expect(long).toBe(usageRecordKey("x".repeat(300)));
    expect(long).not.toBe(usageRecordKey("x".repeat(301)));
  });

  it("200: an increment at the event's own time, filed under the price's lookup key", async () => {
    const event = outbound(item);
    const result = await sink.send(event);
    expect(result).toMatchObject({ kind: "ok", status: 200 });
    const record = env.emu.ledger().usage_records.at(-1);
    expect(record).toMatchObject({
      subscription_item: item,
      event_name: "records",
      quantity: 4,
      action: "increment",
      timestamp: Math.floor(event.occurredAt.getTime() / 1000),
    });
  });

  it("a resend with the same event id is replayed by the Idempotency-Key: counted once", async () => {
    const event = outbound(item);
    const before = env.emu.ledger().usage_records.length;
    expect(await sink.send(event)).toMatchObject({ kind: "ok" });
    expect(await sink.send(event)).toMatchObject({ kind: "ok" });
    expect(await fromUsageRecords(env.stripe).send(event)).toMatchObject({ kind: "ok" });
    expect(env.emu.ledger().usage_records.length).toBe(before + 1);
  });

  it("a timestamp before the current period: an event-scope dead letter whose message says what to do", async () => {
    const event = outbound(item, { occurredAt: new Date(Date.now() - 3 * 86_400_000) });
    const result = await sink.send(event);
    expect(result).toMatchObject({
      kind: "http_error",
      status: 400,
      param: "timestamp",
      code: "timestamp_outside_period",
    });
    const outcome = classify(result);
    expect(outcome).toMatchObject({ kind: "rejected", scope: "event" });
    const settled = decide(
      { attempts: 0, firstAmbiguousAt: null, firstSentAt: null },
      outcome,
      new Date(),
      settings,
    );
    expect(settled).toMatchObject({ status: "failed", code: "timestamp_outside_period" });
    if (settled.status !== "failed") throw new Error("expected failed");
    expect(settled.message).toMatch(/current billing period/);
    expect(settled.message).toMatch(/invoice item/);
  });

  it("a timestamp a little ahead of Stripe's clock: retried, not failed", async () => {
    const result = await sink.send(outbound(item, { occurredAt: new Date(Date.now() + 120_000) }));
    expect(result).toMatchObject({ kind: "http_error", status: 400, code: "timestamp_in_future" });
    expect(classify(result)).toMatchObject({ kind: "retry", ambiguous: false });
  });

  it("404 No such subscription item: a customer-scope rejection naming the fix", async () => {
    const result = await sink.send(outbound("si_missing"));
    expect(result).toMatchObject({ kind: "http_error", status: 404, code: "resource_missing" });
    if (result.kind !== "http_error") throw new Error("expected an http error");
    expect(result.message).toMatch(/PUT \/v1\/customers\/:key\/subscription_items\/records/);
    expect(classify(result)).toMatchObject({ kind: "rejected", scope: "customer" });
  });

  it("a basil+ API version is refused by Stripe: the pinned version is what makes it work", async () => {
    const basil = fromUsageRecords(env.stripe, { apiVersion: "2025-03-31.basil" });
    expect(await basil.send(outbound(item))).toMatchObject({ kind: "http_error", status: 400 });
  });
});
