import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffMs } from "../../src/reporter/backoff.ts";

describe("backoffMs: exponential backoff with full jitter", () => {
  it("stays within [0, min(max, base·2^attempt)] for any attempt and any random draw", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2_000 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseMs, maxMs, r) => {
          const ms = backoffMs(attempt, { baseMs, maxMs }, () => r);
          expect(ms).toBeGreaterThanOrEqual(0);
          expect(ms).toBeLessThanOrEqual(Math.min(maxMs, baseMs * 2 ** attempt));
          expect(Number.isInteger(ms)).toBe(true);
        },
      ),
    );
  });

  it("grows with the attempt until it reaches the ceiling", () => {
    const top = () => 0.999_999;
    const bounds = { baseMs: 100, maxMs: 5_000 };
    expect(backoffMs(0, bounds, top)).toBe(99);
    expect(backoffMs(1, bounds, top)).toBe(199);
    expect(backoffMs(3, bounds, top)).toBe(799);
    expect(backoffMs(10, bounds, top)).toBe(4_999);
    expect(backoffMs(1_000, bounds, top)).toBe(4_999);
  });

  it("is fully jittered: a zero draw waits nothing", () => {
    expect(backoffMs(5, { baseMs: 100, maxMs: 5_000 }, () => 0)).toBe(0);
  });
});
