import { describe, expect, it } from "vitest";
import { rescueDue } from "../../src/reporter/claimer.ts";

describe("rescueDue: how often a claim also looks for expired leases", () => {
  const settings = { pollMs: 500, leaseMs: 15_000 };

  it("looks on the first claim, then at most once a poll interval", () => {
    expect(rescueDue(Number.NEGATIVE_INFINITY, 1_000, settings)).toBe(true);
    expect(rescueDue(1_000, 1_499, settings)).toBe(false);
    expect(rescueDue(1_000, 1_500, settings)).toBe(true);
  });

  it("with a short lease, at least ten times a lease: a rescue is never late by more than a tenth of it", () => {
    const short = { pollMs: 500, leaseMs: 1_000 };
    expect(rescueDue(0, 99, short)).toBe(false);
    expect(rescueDue(0, 100, short)).toBe(true);
  });
});
