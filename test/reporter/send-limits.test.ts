import { describe, expect, it } from "vitest";
import { AimdLimiter, aimdFor } from "../../src/reporter/limiter.ts";
import { SendLimits } from "../../src/reporter/send-limits.ts";
import type { UsageSink } from "../../src/reporter/sinks/port.ts";
import { fromUsageRecords, USAGE_RECORDS_RATE } from "../../src/reporter/sinks/usage-records.ts";
import { okSink } from "./fixtures.ts";

const meterEvents = okSink({ mode: "meter_events" });
const usageRecords = okSink({
  mode: "usage_records",
  dedup: "idempotency_key",
  requestsPerSec: 25,
});

/** Requests through `sink` let go in `ms`, asking every millisecond from `from`. */
function sent(limits: SendLimits, sink: UsageSink, from: number, ms: number): number {
  let n = 0;
  for (let t = from; t < from + ms; t++) {
    while (limits.wait(sink, t) === 0) {
      limits.take(sink, t);
      n++;
    }
  }
  return n;
}

describe("the limits a request is sent under", () => {
  it("the usage records sink declares Stripe's 25 requests/s per endpoint", () => {
    expect(USAGE_RECORDS_RATE).toBe(25);
    expect(fromUsageRecords({} as never).requestsPerSec).toBe(25);
  });

  it("usage records go at their endpoint's 25/s (just under), not at the account's 1,000/s", () => {
    const limits = new SendLimits(new AimdLimiter(aimdFor(1000), 0));
    const n = sent(limits, usageRecords, 0, 10_000);
    expect(n).toBeGreaterThanOrEqual(240);
    expect(n).toBeLessThanOrEqual(245);
  });

  it("a sink waiting for its endpoint does not hold back the others: meter events still get the account's rate", () => {
    const limits = new SendLimits(new AimdLimiter(aimdFor(1000), 0));
    limits.take(usageRecords, 0);
    expect(limits.wait(usageRecords, 1)).toBeGreaterThan(0);
    expect(limits.wait(meterEvents, 1)).toBe(0);
  });

  it("a 429 on usage records lowers their endpoint's rate, not the account's", () => {
    const account = new AimdLimiter(aimdFor(1000), 0);
    const limits = new SendLimits(account);
    expect(limits.throttled(usageRecords, 1_000)).toBe(true);
    expect(account.rate(1_000)).toBeCloseTo(970);
    expect(limits.throttled(meterEvents, 1_000)).toBe(true);
    expect(account.rate(1_000)).toBeLessThan(900);
  });

  it("live workers share the endpoints' limits too: with 5, each sends a fifth of 25/s", () => {
    const limits = new SendLimits(new AimdLimiter(aimdFor(1000), 0));
    limits.setShare(5);
    const n = sent(limits, usageRecords, 0, 10_000);
    expect(n).toBeGreaterThanOrEqual(47);
    expect(n).toBeLessThanOrEqual(50);
  });

  it("without an account limit (an emulator) nothing is limited, the endpoints neither", () => {
    const limits = new SendLimits(null);
    expect(limits.limited).toBe(false);
    for (let i = 0; i < 1_000; i++) limits.take(usageRecords, 0);
    expect(limits.wait(usageRecords, 0)).toBe(0);
    expect(limits.throttled(usageRecords, 0)).toBe(false);
  });
});
