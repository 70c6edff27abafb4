import { describe, expect, it } from "vitest";
import { judgeStored } from "../../src/reporter/verify-stored.ts";

const figures = (f: Partial<Parameters<typeof judgeStored>[0]>) =>
  judgeStored({ total: 0, reported: 0, uncertain: 0, uncertainValue: 0, value: 5, ...f }).kind;

describe("a usage record 5xx judged by Stripe's totals", () => {
  it("with every other event of the period settled: the total says applied or not", () => {
    expect(figures({ total: 105, reported: 100 })).toBe("applied");
    expect(figures({ total: 100, reported: 100 })).toBe("not_applied");
    // Neither: something Meterline does not know of is in Stripe's total.
    expect(figures({ total: 107, reported: 100 })).toBe("unknown");
  });

  it("a neighbour sent without an answer (Stripe may hold it) of the same value cannot pass for this one", () => {
    // Stripe holds the neighbour (3), not this one (3): the old rule read 'applied'.
    expect(figures({ total: 103, reported: 100, uncertain: 1, uncertainValue: 3, value: 3 })).toBe(
      "unknown",
    );
  });

  it("with uncertain neighbours: less than this value missing means not applied; all of them, applied", () => {
    expect(figures({ total: 102, reported: 100, uncertain: 1, uncertainValue: 3 })).toBe(
      "not_applied",
    );
    expect(figures({ total: 108, reported: 100, uncertain: 1, uncertainValue: 3 })).toBe("applied");
  });

  it("a value of 0 changes no total: reported, nothing to double count", () => {
    expect(figures({ total: 100, reported: 100, value: 0 })).toBe("applied");
  });
});
