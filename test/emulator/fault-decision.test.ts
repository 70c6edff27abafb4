import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decideFault, type Faults, NO_FAULTS } from "../../src/emulator/faults.ts";

const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const probability = fc.double({ min: 0, max: 1, noNaN: true });
const faultsArb: fc.Arbitrary<Faults> = fc.record({
  latencyMs: fc.integer({ min: 0, max: 10_000 }),
  latencyJitterMs: fc.integer({ min: 0, max: 10_000 }),
  p500: probability,
  pAmbiguous: probability,
  p429: probability,
  pLockTimeout: probability,
  pTimeout: probability,
});

/** A random source that hands out `draws` and counts how many were taken. */
function source(draws: number[]): { random: () => number; taken: () => number } {
  let i = 0;
  return { random: () => draws[i++] ?? 0, taken: () => i };
}

describe("decideFault (pure)", () => {
  it("the outcome is the band the second draw falls in: 429, lock timeout, 500, ambiguous, timeout", () => {
    fc.assert(
      fc.property(faultsArb, unit, unit, unit, (faults, a, u, kind) => {
        const { outcome } = decideFault(faults, source([a, u, kind]).random);
        const { p429, pLockTimeout, p500, pAmbiguous, pTimeout } = faults;
        const edges = [p429, pLockTimeout, p500, pAmbiguous, pTimeout].map((_, i, all) =>
          all.slice(0, i + 1).reduce((sum, p) => sum + p, 0),
        );
        const [e429 = 0, eLock = 0, e500 = 0, eAmbiguous = 0, eTimeout = 0] = edges;
        if (u < e429) return outcome === "rate_limit";
        if (u < eLock) return outcome === "lock_timeout";
        if (u < e500) return outcome === "error_500";
        if (u < eAmbiguous) {
          return outcome === (kind < 0.5 ? "ambiguous_drop" : "ambiguous_500");
        }
        if (u < eTimeout) return outcome === "timeout";
        return outcome === "none";
      }),
    );
  });

  it("the delay is a whole number within latencyMs ± latencyJitterMs, never negative", () => {
    fc.assert(
      fc.property(faultsArb, unit, unit, unit, (faults, a, u, kind) => {
        const { delayMs } = decideFault(faults, source([a, u, kind]).random);
        const { latencyMs, latencyJitterMs } = faults;
        return (
          Number.isInteger(delayMs) &&
          delayMs >= Math.max(0, latencyMs - latencyJitterMs) &&
          delayMs <= latencyMs + latencyJitterMs
        );
      }),
    );
  });

  it("no faults means no delay and no failure, whatever the draws", () => {
    fc.assert(
      fc.property(unit, unit, unit, (a, u, kind) => {
        expect(decideFault(NO_FAULTS, source([a, u, kind]).random)).toEqual({
          delayMs: 0,
          outcome: "none",
        });
      }),
    );
  });

  it("a probability of 1 on its own always fires", () => {
    fc.assert(
      fc.property(unit, unit, unit, (a, u, kind) => {
        const draws = () => source([a, u, kind]).random;
        expect(decideFault({ ...NO_FAULTS, p429: 1 }, draws()).outcome).toBe("rate_limit");
        expect(decideFault({ ...NO_FAULTS, p500: 1 }, draws()).outcome).toBe("error_500");
        expect(decideFault({ ...NO_FAULTS, pAmbiguous: 1 }, draws()).outcome).toMatch(
          /^ambiguous_/,
        );
        expect(decideFault({ ...NO_FAULTS, pLockTimeout: 1 }, draws()).outcome).toBe(
          "lock_timeout",
        );
        expect(decideFault({ ...NO_FAULTS, pTimeout: 1 }, draws()).outcome).toBe("timeout");
      }),
    );
  });

  it("every decision takes exactly three draws, so a seeded run replays", () => {
    fc.assert(
      fc.property(faultsArb, fc.array(unit, { minLength: 3, maxLength: 3 }), (faults, draws) => {
        const s = source(draws);
        decideFault(faults, s.random);
        return s.taken() === 3;
      }),
    );
  });

  it("over many draws each outcome occurs at about its probability", () => {
    const faults: Faults = { ...NO_FAULTS, p429: 0.1, p500: 0.2, pAmbiguous: 0.3 };
    let seed = 42;
    // A small deterministic LCG: the check is about the bands, not about Math.random.
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const counts = new Map<string, number>();
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const { outcome } = decideFault(faults, random);
      counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    }
    const share = (o: string) => (counts.get(o) ?? 0) / n;
    expect(share("rate_limit")).toBeCloseTo(0.1, 1);
    expect(share("error_500")).toBeCloseTo(0.2, 1);
    expect(share("ambiguous_500") + share("ambiguous_drop")).toBeCloseTo(0.3, 1);
    expect(share("none")).toBeCloseTo(0.4, 1);
  });
});
