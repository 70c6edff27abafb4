import { describe, expect, it } from "vitest";
import { num, percentile, rate, ratio, renderTable, summarize } from "../../bench/table.ts";

describe("percentile (nearest rank)", () => {
  const oneToHundred = Array.from({ length: 100 }, (_, i) => 100 - i);

  it("returns observed values of a known list, whatever its order", () => {
    expect(percentile(oneToHundred, 50)).toBe(50);
    expect(percentile(oneToHundred, 90)).toBe(90);
    expect(percentile(oneToHundred, 99)).toBe(99);
    expect(percentile(oneToHundred, 100)).toBe(100);
    expect(percentile(oneToHundred, 0)).toBe(1);
  });

  it("rounds the rank up on short lists", () => {
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 51)).toBe(30);
    expect(percentile([7], 99)).toBe(7);
  });

  it("is NaN for no values and refuses a percentile outside 0–100", () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it("summarizes p50, p90, p99 and max", () => {
    expect(summarize(oneToHundred)).toEqual({ p50: 50, p90: 90, p99: 99, max: 100 });
  });
});

describe("number formatting", () => {
  it("groups thousands and keeps the decimals asked for", () => {
    expect(num(1_234_567)).toBe("1,234,567");
    expect(num(1234.567, 1)).toBe("1,234.6");
    expect(num(-1500)).toBe("-1,500");
    expect(num(Number.NaN)).toBe("–");
  });

  it("computes rates and ratios, with a dash when they cannot be", () => {
    expect(rate(500, 2_000)).toBe(250);
    expect(rate(5, 0)).toBeNaN();
    expect(ratio(300, 10)).toBe("30.0×");
    expect(ratio(300, 0)).toBe("–");
  });
});

describe("renderTable", () => {
  it("pads columns, right-aligns numbers and prints notes", () => {
    const text = renderTable({
      title: "T",
      columns: ["db", "events/s"],
      rows: [
        ["pglite", "1,200"],
        ["postgres", "950"],
      ],
      notes: ["noisy"],
    });
    expect(text).toBe(
      [
        "### T",
        "",
        "| db       | events/s |",
        "|----------|---------:|",
        "| pglite   |    1,200 |",
        "| postgres |      950 |",
        "",
        "- noisy",
        "",
      ].join("\n"),
    );
  });
});
