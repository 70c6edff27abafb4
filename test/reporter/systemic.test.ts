import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classify } from "../../src/reporter/classify.ts";
import { decide } from "../../src/reporter/decide.ts";
import { OutageTracker } from "../../src/reporter/outage.ts";
import type { SendResult } from "../../src/reporter/sinks/port.ts";
import type { Rejection } from "../../src/reporter/systemic.ts";
import { createSystemicDetector } from "../../src/reporter/systemic-detector.ts";
import { NOW, settings } from "./fixtures.ts";

const thresholds = { systemicCustomers: 5, systemicWindowMs: 60_000 };

function rejection(code: string): Rejection {
  const result: SendResult = {
    kind: "http_error",
    status: 400,
    type: "invalid_request_error",
    code,
    message: "m",
    param: "timestamp",
    shouldRetry: null,
    requestId: "req_1",
  };
  const outcome = classify(result);
  if (outcome.kind !== "rejected") throw new Error(`expected a rejection, got ${outcome.kind}`);
  return outcome;
}

const at = (ms: number) => new Date(NOW.getTime() + ms);
/** The customers of one request: one, or a stream request's many. */
const of = (...customerKeys: string[]) => customerKeys;

describe("the systemic detector", () => {
  it("one customer's rejections are poison, however many", () => {
    const d = createSystemicDetector(thresholds);
    for (let i = 0; i < 50; i++) {
      expect(d.judge(rejection("timestamp_too_far_in_past"), of("acme"), at(i))).toBe("poison");
    }
  });

  it("the same code from 5 distinct customers within the window is systemic", () => {
    const d = createSystemicDetector(thresholds);
    const verdicts = ["a", "b", "c", "d", "e"].map((c, i) =>
      d.judge(rejection("timestamp_too_far_in_past"), of(c), at(i * 1000)),
    );
    expect(verdicts).toEqual(["poison", "poison", "poison", "poison", "systemic"]);
  });

  it("different codes do not add up, and customers outside the window are forgotten", () => {
    const d = createSystemicDetector(thresholds);
    for (const [i, c] of ["a", "b", "c", "d"].entries()) {
      d.judge(rejection(`code_${i}`), of(c), at(0));
    }
    expect(d.judge(rejection("code_0"), of("e"), at(1))).toBe("poison");
    for (const c of ["a", "b", "c", "d"]) d.judge(rejection("x"), of(c), at(0));
    // 61 s later, the first four are out of the window.
    expect(d.judge(rejection("x"), of("e"), at(61_000))).toBe("poison");
  });

  it("gone subscription items trip a permanent halt: six customers rejected among fifty healthy ones that flow are poison, not systemic", () => {
    const d = createSystemicDetector(thresholds);
    const verdicts: string[] = [];
    for (let i = 0; i < 50; i++) {
      d.delivered(`healthy-${i}`, at(i * 100));
      if (i % 8 === 0) {
        verdicts.push(d.judge(rejection("resource_missing"), of(`gone-${i}`), at(i * 100 + 1)));
      }
    }
    expect(verdicts).toHaveLength(7);
    expect(new Set(verdicts)).toEqual(new Set(["poison"]));
  });

  it("a key for the wrong Stripe account (every customer missing, nothing delivered since) is systemic", () => {
    const d = createSystemicDetector(thresholds);
    // Deliveries before the key changed do not count: only those since the first rejection.
    for (const c of ["a", "b", "c", "d", "e"]) d.delivered(c, at(0));
    const verdicts = ["a", "b", "c", "d", "e"].map((c, i) =>
      d.judge(rejection("resource_missing"), of(c), at(1000 + i)),
    );
    expect(verdicts).toEqual(["poison", "poison", "poison", "poison", "systemic"]);
  });

  it("customers rejected again after the others went quiet stay poison: the deliveries since their first rejection count", () => {
    const d = createSystemicDetector(thresholds);
    const gone = ["g1", "g2", "g3", "g4", "g5"];
    // Each gone customer is rejected once while healthy customers flow…
    gone.forEach((c, i) => {
      d.delivered(`healthy-${i}`, at(i * 100));
      expect(d.judge(rejection("resource_missing"), of(c), at(i * 100 + 50))).toBe("poison");
    });
    // …then again, once the healthy traffic has ended (still within the window).
    for (const [i, c] of gone.entries()) {
      expect(d.judge(rejection("resource_missing"), of(c), at(1_000 + i))).toBe("poison");
    }
  });

  it("systemic is judged per request: one stream request of 10 customers is systemic as a whole", () => {
    const d = createSystemicDetector(thresholds);
    const tenCustomers = of(...Array.from({ length: 10 }, (_, i) => `c${i}`));
    expect(d.judge(rejection("x"), tenCustomers, at(0))).toBe("systemic");
  });

  it("systemic exactly when the window holds ≥ N distinct customers of the code (model check)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            customer: fc.constantFrom("a", "b", "c", "d", "e", "f", "g"),
            code: fc.constantFrom("x", "y"),
            dt: fc.integer({ min: 0, max: 30_000 }),
          }),
          { maxLength: 80 },
        ),
        (steps) => {
          const d = createSystemicDetector(thresholds);
          const seen: Array<{ customer: string; code: string; t: number }> = [];
          let t = 0;
          for (const s of steps) {
            t += s.dt;
            seen.push({ customer: s.customer, code: s.code, t });
            const inWindow = new Set(
              seen
                .filter((e) => e.code === s.code && t - e.t <= thresholds.systemicWindowMs)
                .map((e) => e.customer),
            );
            const expected = inWindow.size >= thresholds.systemicCustomers ? "systemic" : "poison";
            expect(d.judge(rejection(s.code), of(s.customer), at(t))).toBe(expected);
          }
        },
      ),
    );
  });
});

describe("a Stripe outage", () => {
  const fail: SendResult = {
    kind: "http_error",
    status: 503,
    type: "api_error",
    code: null,
    message: "down",
    param: null,
    shouldRetry: null,
    requestId: null,
  };

  it("is seen when many customers fail and nothing is delivered; one delivery ends it", () => {
    const o = new OutageTracker(thresholds);
    for (const c of ["a", "b", "c", "d"]) o.failed(c, at(0));
    expect(o.unavailable(at(0))).toBe(false);
    o.failed("e", at(1));
    expect(o.unavailable(at(1))).toBe(true);
    o.delivered(at(2));
    expect(o.unavailable(at(3))).toBe(false);
  });

  it("does not exhaust an event's retries while it lasts (invariant 3); it does otherwise", () => {
    const last = { attempts: settings.maxAttempts - 1, firstAmbiguousAt: null, firstSentAt: null };
    const outcome = classify(fail);
    const during = decide(last, outcome, NOW, settings, () => 0.5, { stripeUnavailable: true });
    expect(during).toMatchObject({
      status: "pending",
      counted: false,
      waitReason: "stripe_unavailable",
    });
    const alone = decide(last, outcome, NOW, settings, () => 0.5, { stripeUnavailable: false });
    expect(alone).toMatchObject({ status: "failed", code: "retries_exhausted" });
  });

  it("never lets an event be resent past the dedup window, outage or not (invariant 5)", () => {
    const old = {
      attempts: settings.maxAttempts - 1,
      firstAmbiguousAt: new Date(NOW.getTime() - settings.dedupWindowMs + 1000),
      firstSentAt: new Date(NOW.getTime() - settings.dedupWindowMs + 1000),
    };
    const s = decide(old, classify(fail), NOW, settings, () => 0.5, { stripeUnavailable: true });
    expect(s).toMatchObject({ status: "failed", code: "dedup_window_expired" });
  });
});
