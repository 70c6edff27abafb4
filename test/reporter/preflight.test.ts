import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { preflight, STRIPE_MAX_AGE_MS } from "../../src/reporter/preflight.ts";
import { customer, DAY, event, HOUR, meter, NOW, settings } from "./fixtures.ts";

describe("preflight", () => {
  it("a healthy event is sent, with Stripe's identifier and the meter's payload keys", () => {
    const verdict = preflight(
      event(),
      customer(),
      meter({ customerPayloadKey: "cust", valuePayloadKey: "n" }),
      NOW,
      settings,
    );
    expect(verdict).toEqual({
      kind: "send",
      outbound: {
        id: "evt_1",
        identifier: "evt_1",
        eventName: "api_calls",
        stripeCustomerId: "cus_acme",
        value: 3,
        occurredAt: event().occurredAt,
        customerPayloadKey: "cust",
        valuePayloadKey: "n",
        keyGeneration: 0,
      },
    });
  });

  it("timestamp older than 35 days minus the margin → fail timestamp_too_old, naming the date and the limit", () => {
    const occurredAt = new Date(NOW.getTime() - 40 * DAY);
    const verdict = preflight(event({ occurredAt }), customer(), meter(), NOW, settings);
    expect(verdict).toMatchObject({ kind: "fail", code: "timestamp_too_old" });
    const limit = new Date(NOW.getTime() - STRIPE_MAX_AGE_MS + settings.timestampMarginMs);
    if (verdict.kind !== "fail") throw new Error("expected a failure");
    expect(verdict.message).toContain(occurredAt.toISOString());
    expect(verdict.message).toContain(limit.toISOString());
    expect(verdict.message).toContain("35 days");
  });

  it("inside the margin (35 days minus 30 min) is already too old; 34 days is fine", () => {
    const edge = new Date(NOW.getTime() - STRIPE_MAX_AGE_MS + 30 * 60_000);
    expect(preflight(event({ occurredAt: edge }), customer(), meter(), NOW, settings).kind).toBe(
      "fail",
    );
    const ok = new Date(NOW.getTime() - 34 * DAY);
    expect(preflight(event({ occurredAt: ok }), customer(), meter(), NOW, settings).kind).toBe(
      "send",
    );
  });

  it("more than 5 minutes in the future → wait until it is within", () => {
    const occurredAt = new Date(NOW.getTime() + HOUR);
    const verdict = preflight(event({ occurredAt }), customer(), meter(), NOW, settings);
    expect(verdict).toMatchObject({ kind: "wait", reason: "timestamp_in_future" });
    if (verdict.kind !== "wait") throw new Error("expected a wait");
    // At `until` the event is inside Stripe's 5 minutes, and pre-flight lets it go.
    expect(verdict.until.getTime()).toBeLessThan(occurredAt.getTime());
    expect(verdict.until.getTime()).toBeGreaterThanOrEqual(occurredAt.getTime() - 5 * 60_000);
    expect(
      preflight(event({ occurredAt }), customer(), meter(), verdict.until, settings).kind,
    ).toBe("send");
  });

  it("a minute ahead is sent at once", () => {
    const occurredAt = new Date(NOW.getTime() + 60_000);
    expect(preflight(event({ occurredAt }), customer(), meter(), NOW, settings).kind).toBe("send");
  });

  it("customer deleted → fail customer_deleted, saying what to do", () => {
    const verdict = preflight(
      event(),
      customer({ status: "deleted", deletedAt: new Date(NOW.getTime() - HOUR) }),
      meter(),
      NOW,
      settings,
    );
    expect(verdict).toMatchObject({ kind: "fail", code: "customer_deleted" });
    if (verdict.kind !== "fail") throw new Error("expected a failure");
    expect(verdict.message).toMatch(/restore the customer and retry.*discard/);
  });

  it("customer missing → fail customer_not_found", () => {
    const verdict = preflight(event(), undefined, meter(), NOW, settings);
    expect(verdict).toMatchObject({ kind: "fail", code: "customer_not_found" });
    if (verdict.kind !== "fail") throw new Error("expected a failure");
    expect(verdict.message).toContain('"acme"');
  });

  it("customer not yet linked → wait customer_unlinked, at most until the hold limit", () => {
    const unlinked = customer({ stripeCustomerId: null });
    const verdict = preflight(event(), unlinked, meter(), NOW, settings);
    expect(verdict).toMatchObject({ kind: "wait", reason: "customer_unlinked" });
    if (verdict.kind !== "wait") throw new Error("expected a wait");
    const deadline = event().receivedAt.getTime() + settings.unlinkedHoldMs;
    expect(verdict.until.getTime()).toBeLessThanOrEqual(deadline);
    expect(verdict.until.getTime()).toBeGreaterThan(NOW.getTime());
  });

  it("customer unlinked past the hold limit since received_at → fail customer_unlinked", () => {
    const receivedAt = new Date(NOW.getTime() - settings.unlinkedHoldMs - 1);
    const verdict = preflight(
      event({ receivedAt }),
      customer({ stripeCustomerId: null }),
      meter(),
      NOW,
      settings,
    );
    expect(verdict).toMatchObject({ kind: "fail", code: "customer_unlinked" });
  });

  it("unknown meter → wait meter_unknown; inactive meter → wait meter_inactive (never failed)", () => {
    expect(preflight(event(), customer(), undefined, NOW, settings)).toMatchObject({
      kind: "wait",
      reason: "meter_unknown",
    });
    expect(
      preflight(event(), customer(), meter({ status: "inactive" }), NOW, settings),
    ).toMatchObject({ kind: "wait", reason: "meter_inactive" });
  });

  it("first send older than the dedup window → fail dedup_window_expired, never sent", () => {
    const firstSentAt = new Date(NOW.getTime() - settings.dedupWindowMs);
    expect(preflight(event({ firstSentAt }), customer(), meter(), NOW, settings)).toMatchObject({
      kind: "fail",
      code: "dedup_window_expired",
    });
  });

  it("property: whatever the inputs, a meter problem never fails an event", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -50 * DAY, max: DAY }),
        fc.constantFrom(undefined, meter({ status: "inactive" })),
        (offset, m) => {
          const verdict = preflight(
            event({ occurredAt: new Date(NOW.getTime() + offset) }),
            customer(),
            m,
            NOW,
            settings,
          );
          if (verdict.kind === "fail") expect(verdict.code).toBe("timestamp_too_old");
          else expect(verdict.kind).toBe("wait");
        },
      ),
    );
  });

  it("property: every verdict message tells a person something concrete", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -50 * DAY, max: DAY }),
        fc.constantFrom(
          undefined,
          customer(),
          customer({ status: "deleted" }),
          customer({ stripeCustomerId: null }),
        ),
        fc.constantFrom(undefined, meter(), meter({ status: "inactive" })),
        (offset, c, m) => {
          const verdict = preflight(
            event({ occurredAt: new Date(NOW.getTime() + offset) }),
            c,
            m,
            NOW,
            settings,
          );
          if (verdict.kind !== "send") expect(verdict.message.length).toBeGreaterThan(40);
        },
      ),
    );
  });
});
