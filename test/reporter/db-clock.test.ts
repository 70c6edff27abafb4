import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DbClock, DRIFT_PER_MS, PRIOR_BOUND_MS } from "../../src/reporter/db-clock.ts";

// The database's clock runs this far ahead of ours in every case below.
const AHEAD = 250;

describe("DbClock", () => {
  it("reads the first answer at the middle of its round trip", () => {
    const clock = new DbClock(0);
    // The database said 1,260 during our 1,000..1,020: its now() fell at our ~1,010.
    clock.observe(1_260, 1_000, 1_020);
    expect(clock.at(2_000).getTime()).toBe(2_250);
  });

  it("a claim stalled after its statement (a frozen process) does not move the estimate", () => {
    const clock = new DbClock(0);
    clock.observe(1_000 + AHEAD, 995, 1_005);
    // The statement ran at our 10,000; the process then stood still for 3 s before it read
    // the answer. Taken at face value, the database would seem 2.75 s behind us.
    clock.observe(10_000 + AHEAD, 9_999, 13_000);
    expect(clock.at(13_000).getTime()).toBe(13_000 + AHEAD);
  });

  it("a reading no better than an aged estimate replaces it", () => {
    const clock = new DbClock(0);
    clock.observe(1_000 + AHEAD, 999, 1_001);
    // 10 s later the first reading's bound has grown to 1 + 10 ms: a 20 ms round trip (10 ms
    // bound) is as good, and it tells that our clock has since moved 5 ms.
    clock.observe(11_010 + AHEAD - 5, 11_000, 11_020);
    expect(clock.at(12_000).getTime()).toBe(12_000 + AHEAD - 5);
  });

  it("a new worker's first claim, stalled for seconds, does not replace its own clock", () => {
    // Our clock is 60 ms behind the database's: within the prior.
    const clock = new DbClock(0);
    // Frozen right after its first claim's statement ran at our 1,000, for 7 s.
    clock.observe(1_000 + 60, 999, 8_000);
    expect(clock.at(8_000).getTime()).toBe(8_000);
    expect(PRIOR_BOUND_MS).toBeGreaterThanOrEqual(60);
    // The next claim's few ms say better.
    clock.observe(8_010 + 60, 8_008, 8_012);
    expect(clock.at(9_000).getTime()).toBe(9_060);
  });

  it("is never further off than the best reading so far, aged by the drift allowance", () => {
    const reading = fc.record({
      gap: fc.integer({ min: 0, max: 60_000 }),
      roundTrip: fc.integer({ min: 0, max: 10_000 }),
      // Where in the round trip the database read its clock, 0..1.
      at: fc.double({ min: 0, max: 1, noNaN: true }),
    });
    fc.assert(
      fc.property(fc.array(reading, { minLength: 1, maxLength: 40 }), (readings) => {
        // No prior: every bound comes from the readings.
        const clock = new DbClock(0, Number.POSITIVE_INFINITY);
        let ours = 0;
        let best = Number.POSITIVE_INFINITY;
        for (const r of readings) {
          const sent = ours + r.gap;
          // The best bound so far, aged to this answer's arrival, or this reading's own.
          best = Math.min(best + (r.gap + r.roundTrip) * DRIFT_PER_MS, r.roundTrip / 2);
          ours = sent + r.roundTrip;
          clock.observe(sent + r.at * r.roundTrip + AHEAD, sent, ours);
          const off = Math.abs(clock.at(ours).getTime() - (ours + AHEAD));
          // Date holds whole ms: allow the rounding.
          expect(off).toBeLessThanOrEqual(best + 1);
        }
      }),
    );
  });
});
