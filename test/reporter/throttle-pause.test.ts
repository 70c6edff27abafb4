import { describe, expect, it } from "vitest";
import { ThrottlePause } from "../../src/reporter/throttle-pause.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe("the worker-wide pause after a 429", () => {
  it("a burst of throttles from requests already in flight is one signal, not a long streak", () => {
    const pause = new ThrottlePause({ baseMs: 1_000, maxMs: 300_000 }, () => 0.999, quiet);
    const before = Date.now();
    for (let i = 0; i < 32; i++) pause.record(true, "429");
    let resumed = false;
    expect(pause.holds(() => (resumed = true))).toBe(true);
    pause.clear();
    // One throttle's backoff (at most base · 2), not the 32nd's (the 300 s maximum).
    const until = (pause as unknown as { until: number }).until;
    expect(until - before).toBeLessThanOrEqual(2_000 + 50);
    expect(resumed).toBe(false);
  });

  it("any other answer ends the pause's streak", () => {
    const pause = new ThrottlePause({ baseMs: 1, maxMs: 1 }, () => 0.5, quiet);
    pause.record(true, "429");
    pause.record(false, "2xx");
    expect((pause as unknown as { streak: number }).streak).toBe(0);
  });
});
