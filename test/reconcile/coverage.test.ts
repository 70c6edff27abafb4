import { describe, expect, it } from "vitest";
import { type CleanRun, coveredSpans } from "../../src/reconcile/coverage.ts";

const H = 3_600_000;
const run = (id: number, from: number, to: number, driftHours: number[] = []): CleanRun => ({
  id,
  startedAt: 1_000 * H + id,
  rangeStart: from * H,
  rangeEnd: to * H,
  driftHours: driftHours.map((h) => h * H),
});

describe("the hours reconciliations cover", () => {
  it("merges consecutive clean hours, and stops at the cutoff", () => {
    expect(coveredSpans([run(1, 10, 20)], 15.5 * H, 0)).toEqual([
      { start: 10 * H, end: 15.5 * H, reportedBefore: 1_000 * H + 1 },
    ]);
  });

  it("the latest run holding an hour judges it: drift found later takes it back, a clean run later gives it", () => {
    const runs = [run(1, 10, 16, [11]), run(2, 11, 12), run(3, 13, 14, [13])];
    expect(coveredSpans(runs, 100 * H, 0).map((s) => [s.start / H, s.end / H])).toEqual([
      [10, 13],
      [14, 16],
    ]);
  });

  it("events must have been reported the settle margin before the earliest run of their span", () => {
    const [span] = coveredSpans([run(2, 10, 11), run(1, 11, 12)], 100 * H, 10 * 60_000);
    expect(span?.reportedBefore).toBe(1_000 * H + 1 - 10 * 60_000);
  });

  it("no run, no span", () => {
    expect(coveredSpans([], 100 * H, 0)).toEqual([]);
  });
});
