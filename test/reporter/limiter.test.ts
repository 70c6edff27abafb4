import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AimdLimiter, aimdFor, rateFor, STRIPE_RATE } from "../../src/reporter/limiter.ts";

/** Tokens granted in `ms` of simulated time, asking every millisecond. */
function granted(limiter: AimdLimiter, from: number, ms: number): number {
  let n = 0;
  for (let t = from; t < from + ms; t++) while (limiter.take(t) === 0) n++;
  return n;
}

describe("the rate by Stripe mode", () => {
  it("live keys 1,000/s, test and restricted test keys 25/s, METERLINE_RATE_LIMIT wins", () => {
    expect(rateFor({ secretKey: "sk_live_x", emulator: false, configured: null })).toBe(
      STRIPE_RATE.live,
    );
    expect(rateFor({ secretKey: "rk_live_x", emulator: false, configured: null })).toBe(1000);
    expect(rateFor({ secretKey: "sk_test_x", emulator: false, configured: null })).toBe(25);
    expect(rateFor({ secretKey: "rk_test_x", emulator: false, configured: null })).toBe(25);
    expect(rateFor({ secretKey: "sk_live_x", emulator: false, configured: 300 })).toBe(300);
  });

  it("an emulator has no limit unless one is configured", () => {
    expect(rateFor({ secretKey: "sk_test_emulator", emulator: true, configured: null })).toBeNull();
    expect(rateFor({ secretKey: "sk_test_emulator", emulator: true, configured: 50 })).toBe(50);
  });
});

describe("the AIMD token bucket", () => {
  it("grants about the rate per second, with at most one second of burst", () => {
    const limiter = new AimdLimiter(aimdFor(100), 0);
    // A second of idling fills at most one second's worth.
    const n = granted(limiter, 1000, 1000);
    expect(n).toBeGreaterThanOrEqual(190);
    expect(n).toBeLessThanOrEqual(201);
  });

  it("halves on a 429, once per cooldown however many come back, then climbs back linearly", () => {
    const limiter = new AimdLimiter(aimdFor(100), 0);
    limiter.throttled(5000);
    expect(limiter.rate(5000)).toBe(50);
    // The rest of the burst already in flight: the same signal.
    limiter.throttled(5100);
    limiter.throttled(5500);
    expect(limiter.rate(5500)).toBeGreaterThan(50);
    // Additive increase: max/20 per second, back to the ceiling after 10 s, never beyond.
    expect(limiter.rate(6000)).toBeCloseTo(55);
    expect(limiter.rate(15_000)).toBe(100);
    expect(limiter.rate(60_000)).toBe(100);
  });

  it("never goes below its floor, never above its ceiling, and a wait is always positive and finite", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.boolean()), { maxLength: 60 }),
        (max, steps) => {
          const s = aimdFor(max);
          const limiter = new AimdLimiter(s, 0);
          let t = 0;
          for (const [dt, throttle] of steps) {
            t += dt;
            if (throttle) limiter.throttled(t);
            const rate = limiter.rate(t);
            expect(rate).toBeGreaterThanOrEqual(s.minPerSec);
            expect(rate).toBeLessThanOrEqual(max);
            const wait = limiter.take(t);
            expect(wait).toBeGreaterThanOrEqual(0);
            expect(Number.isFinite(wait)).toBe(true);
          }
        },
      ),
    );
  });
});

describe("the account's rate across workers", () => {
  it("limits are per account, not per process: with 4 live workers each sends a quarter of the rate", () => {
    const limiter = new AimdLimiter(aimdFor(100), 0);
    limiter.setShare(4);
    expect(limiter.processRate(0)).toBe(25);
    // Over 10 s, one process gets about a quarter of 1,000 tokens (plus its one-second burst).
    const n = granted(limiter, 0, 10_000);
    expect(n).toBeGreaterThanOrEqual(245);
    expect(n).toBeLessThanOrEqual(276);
    limiter.setShare(1);
    expect(limiter.processRate(10_000)).toBe(100);
  });
});
