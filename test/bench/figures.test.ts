import { describe, expect, it } from "vitest";
import { at, figure, put } from "../../bench/report.ts";
import { parseProcStat, processCpuMs } from "../../bench/support/cpu.ts";
import { openLoop, scheduledAt } from "../../bench/support/open-loop.ts";
import { withApplicationName } from "../../bench/support/postgres-cpu.ts";
import { perEvent, steadyRate } from "../../bench/table.ts";

describe("the JSON document", () => {
  it("puts figures at dotted paths, NaN and infinities as null", () => {
    const doc = {};
    put(doc, "e2e.postgres.meter_events.events_per_s", 950.5);
    put(doc, "e2e.postgres.meter_events.throttled", 0);
    put(doc, "e2e.postgres.meter_stream.events_per_s", Number.NaN);
    expect(doc).toEqual({
      e2e: {
        postgres: {
          meter_events: { events_per_s: 950.5, throttled: 0 },
          meter_stream: { events_per_s: null },
        },
      },
    });
    expect(at(doc, "e2e.postgres.meter_events.throttled")).toBe(0);
    expect(at(doc, "e2e.pglite.meter_events")).toBeUndefined();
    expect(figure(Number.POSITIVE_INFINITY)).toBeNull();
  });
});

describe("steady rate", () => {
  it("counts the events between the 10th and 90th percentile over the time between them", () => {
    // 1,000 events: ranks 100 and 900, 800 events in 4 s.
    expect(steadyRate(1_000, 10_000, 14_000)).toBe(200);
    expect(steadyRate(10, 5, 5)).toBeNaN();
  });

  it("divides CPU by events, NaN when there were none", () => {
    expect(perEvent(500, 1_000)).toBe(0.5);
    expect(perEvent(500, 0)).toBeNaN();
  });
});

describe("CPU from /proc", () => {
  it("reads utime + stime, even with spaces and parentheses in the command name", () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i));
    fields[11] = "250"; // utime, field 14
    fields[12] = "50"; // stime, field 15
    expect(parseProcStat(`1234 (node (x) y) ${fields.join(" ")}`, 100)).toBe(3_000);
    expect(parseProcStat("garbage", 100)).toBeNull();
  });

  it("reads this process's own CPU, and nothing for a pid that does not exist", () => {
    expect(processCpuMs(process.pid)).toBeGreaterThanOrEqual(0);
    expect(processCpuMs(2 ** 30)).toBeNull();
  });

  it("names the backends of each process by application_name", () => {
    expect(withApplicationName("postgres://u@h:5432/db", "meterline-api")).toBe(
      "postgres://u@h:5432/db?application_name=meterline-api",
    );
  });
});

describe("open loop", () => {
  it("schedules request i at t0 + i / rate", () => {
    expect(scheduledAt(1_000, 0, 500)).toBe(1_000);
    expect(scheduledAt(1_000, 250, 500)).toBe(1_500);
  });

  it("sends on schedule whatever the answers do, and counts latency from the schedule", async () => {
    let inFlight = 0;
    let most = 0;
    // Every answer takes 50 ms and requests are due every 10 ms: the next one leaves before
    // the answer before it comes (a closed loop of one would never have two in flight).
    const r = await openLoop(20, 100, async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 50));
      inFlight--;
      return null;
    });
    expect(r.latencies).toHaveLength(20);
    expect(r.lags).toHaveLength(20);
    expect(r.errors).toBe(0);
    expect(most).toBeGreaterThan(1);
    // From the scheduled time, so never less than the answer's own 50 ms.
    expect(Math.min(...r.latencies)).toBeGreaterThanOrEqual(49);
  });
});
