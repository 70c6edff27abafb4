import { describe, expect, it } from "vitest";
import { preflightStreamEvent } from "../../src/reporter/preflight-stream.ts";
import { preflightSubscriptionItem } from "../../src/reporter/preflight-subscription-item.ts";
import type { OutboundEvent } from "../../src/reporter/sinks/port.ts";
import { event, HOUR, NOW, settings } from "./fixtures.ts";

const outbound: OutboundEvent = {
  id: "evt_1",
  identifier: "evt_1",
  eventName: "api_calls",
  stripeCustomerId: "cus_acme",
  value: 3,
  occurredAt: NOW,
  customerPayloadKey: "stripe_customer_id",
  valuePayloadKey: "value",
};

describe("pre-flight, usage_records: the subscription item", () => {
  it("set: send, with the item on the outbound event", () => {
    expect(preflightSubscriptionItem(event(), outbound, "si_1", NOW, settings)).toEqual({
      kind: "send",
      outbound: { ...outbound, subscriptionItemId: "si_1" },
    });
  });

  it("missing: wait (subscription_item_missing), rechecked at most at the backoff ceiling, naming the PUT that fixes it", () => {
    const verdict = preflightSubscriptionItem(event(), outbound, undefined, NOW, settings);
    expect(verdict).toMatchObject({ kind: "wait", reason: "subscription_item_missing" });
    if (verdict.kind !== "wait") throw new Error("expected a wait");
    expect(verdict.until.getTime()).toBe(NOW.getTime() + settings.backoffMaxMs);
    expect(verdict.message).toContain("PUT /v1/customers/acme/subscription_items/api_calls");
  });

  it("missing past the hold limit (the unlinked customer's): failed, with the fix", () => {
    const old = event({ receivedAt: new Date(NOW.getTime() - settings.unlinkedHoldMs - HOUR) });
    const verdict = preflightSubscriptionItem(old, outbound, undefined, NOW, settings);
    expect(verdict).toMatchObject({ kind: "fail", code: "subscription_item_missing" });
  });
});

describe("pre-flight, meter_stream", () => {
  it("an identifier within 100 characters: send", () => {
    expect(preflightStreamEvent(outbound)).toEqual({ kind: "send", outbound });
  });

  it("an identifier over 100 characters would sink the whole request: failed before it", () => {
    const long = "x".repeat(101);
    expect(preflightStreamEvent({ ...outbound, id: long, identifier: long })).toMatchObject({
      kind: "fail",
      code: "identifier_too_long",
    });
  });
});
