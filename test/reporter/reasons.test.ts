import { describe, expect, it } from "vitest";
import { DEAD_LETTER_CODES, reasonOf, WAIT_REASONS } from "../../src/outbox/reasons.ts";
import { METER_WAITS, PREFLIGHT_WAITS } from "../../src/outbox/wake.ts";

describe("the registry of wait reasons and dead-letter codes", () => {
  it("gives every reason a scope and a next step a person can act on", () => {
    for (const [code, r] of Object.entries({ ...WAIT_REASONS, ...DEAD_LETTER_CODES })) {
      expect(r.nextStep.length, code).toBeGreaterThan(10);
      expect(reasonOf(code), code).toBe(r);
    }
  });

  it("knows nothing of Stripe's own codes: those are explained by the attempt", () => {
    expect(reasonOf("resource_missing")).toBeNull();
    expect(reasonOf(null)).toBeNull();
  });

  it("wakes every meter-scope wait when a meter changes, and pre-flight's waits when a customer does", () => {
    expect([...METER_WAITS].sort()).toEqual([
      "delivery_mode_unavailable",
      "meter_inactive",
      "meter_rejected",
      "meter_unknown",
    ]);
    for (const r of PREFLIGHT_WAITS) expect(Object.hasOwn(WAIT_REASONS, r), r).toBe(true);
  });
});
