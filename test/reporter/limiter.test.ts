import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AimdLimiter, aimdFor, rateFor, STRIPE_RATE } from "../../src/reporter/limiter.ts";

/** Tokens granted in `ms` of simulated time, asking every millisecond. */
function granted(limiter: AimdLimiter, from: number, ms: number): number {
  let n = 0;
  for (let t = from; t < from + ms; t++) while (limiter.take(t) === 0) n++;
  return n;
}

/**
 * A closed loop against a server that counts requests in fixed one-second windows (as the
 * emulator does, and as Stripe may) and answers 429 past `limit`: a sender that always has work
 * asks every ms; arrivals jitter by up to `jitterMs`; a 429 reaches the limiter `rttMs` later.
 */
function againstWindows(
  limiter: AimdLimiter,
  opts: { limit: number; seconds: number; jitterMs?: number; rttMs?: number; seed?: number },
) {
  let seed = opts.seed ?? 1;
  const random = () => {
    seed = (seed * 16_807) % 2_147_483_647;
    return seed / 2_147_483_647;
  };
  const counts = new Map<number, number>();
  const answers: Array<{ at: number; throttled: boolean }> = [];
  const okPerWindow: number[] = [];
  const windowsWith429 = new Set<number>();
  let throttled = 0;
  for (let t = 0; t < opts.seconds * 1000; t++) {
    while (answers.length > 0 && (answers[0]?.at ?? Number.POSITIVE_INFINITY) <= t) {
      if (answers.shift()?.throttled) limiter.throttled(t);
    }
    while (limiter.take(t) === 0) {
      const window = Math.floor((t + random() * (opts.jitterMs ?? 5)) / 1000);
      const count = (counts.get(window) ?? 0) + 1;
      counts.set(window, count);
      const over = count > opts.limit;
      if (over) {
        throttled++;
        windowsWith429.add(window);
      } else okPerWindow[window] = (okPerWindow[window] ?? 0) + 1;
      answers.push({ at: t + (opts.rttMs ?? 30), throttled: over });
    }
  }
  const meanOk = (from: number, to: number) =>
    okPerWindow.slice(from, to).reduce((a, b) => a + (b ?? 0), 0) / (to - from);
  return { throttled, windowsWith429: windowsWith429.size, meanOk, maxPerWindow: counts };
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

describe("just under the limit, in short bursts", () => {
  it("aims 3 % under the limit: 970 of 1,000/s", () => {
    const limiter = new AimdLimiter(aimdFor(1000), 0);
    expect(limiter.rate(0)).toBeCloseTo(970);
    expect(granted(limiter, 0, 10_000)).toBeGreaterThanOrEqual(9_690);
    expect(granted(limiter, 10_000, 10_000)).toBeLessThanOrEqual(9_720);
  });

  it("a pause earns a 20 ms burst, not a second's: no one-second window, wherever its edges, sees the limit", () => {
    const limiter = new AimdLimiter(aimdFor(1000), 0);
    const times: number[] = [];
    // Busy, idle for 3 s, busy again: the worst case for a bucket.
    for (const [from, to] of [
      [0, 2_000],
      [5_000, 8_000],
    ] as const) {
      for (let t = from; t < to; t++) while (limiter.take(t) === 0) times.push(t);
    }
    expect(times.filter((t) => t === 5_000).length).toBeLessThanOrEqual(20);
    for (let edge = 0; edge < 1_000; edge += 7) {
      const perWindow = new Map<number, number>();
      for (const t of times) {
        const w = Math.floor((t + edge) / 1000);
        perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
      }
      expect(Math.max(...perWindow.values())).toBeLessThan(990);
    }
  });

  it("against a server at exactly the limit, with arrival jitter: not one 429 in a minute", () => {
    for (const jitterMs of [0, 5, 15]) {
      const run = againstWindows(new AimdLimiter(aimdFor(1000), 0), {
        limit: 1000,
        seconds: 60,
        jitterMs,
      });
      expect(run.throttled).toBe(0);
      expect(run.meanOk(1, 59)).toBeGreaterThanOrEqual(965);
    }
  });
});

describe("after a 429", () => {
  it("a lone 429 takes 15 % off, once per cooldown however many come back, and empties the bucket", () => {
    const limiter = new AimdLimiter(aimdFor(1000), 0);
    expect(limiter.throttled(5000)).toBe(true);
    expect(limiter.rate(5000)).toBeCloseTo(970 * 0.85);
    expect(limiter.wait(5000)).toBeGreaterThan(0);
    // The rest of the burst already in flight: the same signal.
    expect(limiter.throttled(5100)).toBe(false);
    expect(limiter.throttled(5900)).toBe(false);
  });

  it("climbs back quickly to 2 % under the rate that met it, then only creeps: no climb straight back into the limit", () => {
    const limiter = new AimdLimiter(aimdFor(1000), 0);
    limiter.throttled(0);
    // 48.5/s back up: 2 % under 970 within ~3 s.
    expect(limiter.rate(1_000)).toBeCloseTo(824.5 + 48.5, 0);
    expect(limiter.rate(2_700)).toBeCloseTo(950.6, 0);
    // Then 0.25 %/s of it: 2 s later, not even 5 more per second.
    expect(limiter.rate(4_700)).toBeLessThan(956);
    // And never beyond the target.
    expect(limiter.rate(60_000)).toBeCloseTo(970);
  });

  it("429s one after the other halve it: a limit far under the configured one is found in seconds, then met rarely", () => {
    // Configured for 1,000/s; the endpoint allows 25 (usage records at the account's rate).
    const run = againstWindows(new AimdLimiter(aimdFor(1000), 0), { limit: 25, seconds: 120 });
    expect(run.meanOk(20, 120)).toBeGreaterThanOrEqual(23);
    // At most one window in five has a 429, the first seconds' included.
    expect(run.windowsWith429).toBeLessThanOrEqual(24);
  });

  it("a neighbour takes part of the account (the limit drops to 800): 429s become rare and the rate settles under it", () => {
    const run = againstWindows(new AimdLimiter(aimdFor(1000), 0), { limit: 800, seconds: 120 });
    expect(run.windowsWith429).toBeLessThanOrEqual(15);
    expect(run.meanOk(30, 120)).toBeGreaterThanOrEqual(760);
  });

  it("never goes below its floor, never above its target, and a wait is always positive and finite", () => {
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
            expect(rate).toBeLessThanOrEqual(s.target + 1e-9);
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
    expect(limiter.processRate(0)).toBeCloseTo(24.25);
    // Over 10 s, one process gets about a quarter of 970 tokens a second.
    const n = granted(limiter, 0, 10_000);
    expect(n).toBeGreaterThanOrEqual(240);
    expect(n).toBeLessThanOrEqual(245);
    limiter.setShare(1);
    expect(limiter.processRate(10_000)).toBeCloseTo(97);
  });
});
