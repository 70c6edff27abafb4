import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { judgeStored, MAX_WEIGHED, subsetSums } from "../../src/reporter/verify-stored.ts";

const figures = (f: Partial<Parameters<typeof judgeStored>[0]>) =>
  judgeStored({ total: 0, reported: 0, uncertainValues: [], value: 5, ...f }).kind;

describe("a usage record 5xx judged by Stripe's totals", () => {
  it("with every other event of the period settled: the total says applied or not", () => {
    expect(figures({ total: 105, reported: 100 })).toBe("applied");
    expect(figures({ total: 100, reported: 100 })).toBe("not_applied");
    // Neither: something Meterline does not know of is in Stripe's total.
    expect(figures({ total: 107, reported: 100 })).toBe("unknown");
  });

  it("a neighbour sent without an answer (Stripe may hold it) of the same value cannot pass for this one", () => {
    // Stripe holds the neighbour (3), not this one (3): the old rule read 'applied'.
    expect(figures({ total: 103, reported: 100, uncertainValues: [3], value: 3 })).toBe("unknown");
  });

  it("with uncertain neighbours: less than this value missing means not applied; all of them, applied", () => {
    expect(figures({ total: 102, reported: 100, uncertainValues: [3] })).toBe("not_applied");
    expect(figures({ total: 108, reported: 100, uncertainValues: [3] })).toBe("applied");
  });

  it("a total that only this record can explain, whichever neighbours Stripe holds, is applied", () => {
    // Neighbours 4 and 2. d = 7: this record and the 2; without it, no subset makes 7.
    expect(figures({ total: 107, reported: 100, uncertainValues: [4, 2] })).toBe("applied");
    // d = 9: this record and the 4; without it, no subset makes 9.
    expect(figures({ total: 109, reported: 100, uncertainValues: [4, 2] })).toBe("applied");
    // d = 6: the 4 and the 2 without this record; with it, 1 would be left, which no subset makes.
    // The total fits only 'not applied', which the sure rule alone may say: unknown.
    expect(figures({ total: 106, reported: 100, uncertainValues: [4, 2] })).toBe("unknown");
    // d = 9 with neighbours 4 and 5: this record and the 4, or the 4 and the 5 without it.
    expect(figures({ total: 109, reported: 100, uncertainValues: [5, 4] })).toBe("unknown");
  });

  it("a value of 0 changes no total: reported, nothing to double count", () => {
    expect(figures({ total: 100, reported: 100, value: 0 })).toBe("applied");
  });

  it("never says 'not applied' of an applied record (its resend would bill it twice), even with usage filed on the item by someone else; never 'applied' of one Stripe lacks, when nobody else files usage", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ value: fc.integer({ min: 0, max: 30 }), held: fc.boolean() }), {
          maxLength: MAX_WEIGHED + 3,
        }),
        fc.integer({ min: 0, max: 30 }),
        fc.boolean(),
        fc.nat(1_000),
        fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 })),
        (neighbours, value, applied, reported, foreign) => {
          const held = neighbours.filter((n) => n.held).reduce((a, n) => a + n.value, 0);
          const total = reported + (applied ? value : 0) + held + foreign;
          const uncertainValues = neighbours.map((n) => n.value);
          const verdict = judgeStored({ total, reported, uncertainValues, value }).kind;
          if (applied) expect(verdict).not.toBe("not_applied");
          if (!applied && value > 0 && foreign === 0) expect(verdict).not.toBe("applied");
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("subset sums: every reachable sum up to the limit, and none past it", () => {
    expect([...(subsetSums([4, 2], 100) ?? [])].sort((a, b) => a - b)).toEqual([0, 2, 4, 6]);
    expect([...(subsetSums([4, 2], 5) ?? [])].sort((a, b) => a - b)).toEqual([0, 2, 4]);
    // Large, varied values: too many sums to weigh, so nothing is claimed from them.
    const varied = Array.from({ length: 20 }, (_, i) => 2 ** i);
    expect(subsetSums(varied, Number.MAX_SAFE_INTEGER)).toBeNull();
  });
});
