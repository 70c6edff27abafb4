import { describe, expect, it } from "vitest";
import { parseOptions } from "../../bench/options.ts";
import { parseProcStatus } from "../../bench/support/proc.ts";

describe("bench flags", () => {
  it("--quick picks the small sizes, and explicit flags win over them", () => {
    const parsed = parseOptions(["--quick", "--v1-events", "300", "--only", "ingest,e2e"], {});
    expect(parsed.kind).toBe("run");
    if (parsed.kind !== "run") return;
    expect(parsed.options).toMatchObject({
      preset: "quick",
      quick: true,
      json: false,
      events: { meter_events: 300, meter_stream: 20_000, usage_records: 200 },
      baselineWindowS: 6,
      backlogLarge: 50_000,
      tables: ["e2e", "ingest"],
      databaseUrl: "postgres://postgres@127.0.0.1:5432/postgres",
    });
  });

  it("a full run sends 100,000 events through the v2 stream, and --events sets every mode", () => {
    const full = parseOptions([], {});
    expect(full.kind === "run" && full.options.events.meter_stream).toBe(100_000);
    expect(full.kind === "run" && full.options.backlogLarge).toBe(1_000_000);
    const all = parseOptions(["--events", "5000", "--stream-events", "7000"], {});
    expect(all.kind === "run" && all.options.events).toEqual({
      meter_events: 5_000,
      meter_stream: 7_000,
      usage_records: 5_000,
    });
  });

  it("--smoke is the smallest preset, and cannot be combined with --quick", () => {
    const smoke = parseOptions(["--smoke", "--json"], {});
    expect(smoke.kind === "run" && smoke.options).toMatchObject({
      preset: "smoke",
      json: true,
      backlogLarge: 2_000,
    });
    expect(parseOptions(["--smoke", "--quick"], {}).kind).toBe("error");
  });

  it("names the flag and the rule of a bad value", () => {
    const parsed = parseOptions(["--latency", "1.5", "--only", "nope"], {});
    expect(parsed).toEqual({
      kind: "error",
      message:
        '--only takes e2e, ingest, backlog, retention, import, outbox; got "nope"\n--latency must be a whole number ≥ 0, got "1.5"',
    });
  });

  it("takes DATABASE_URL from the environment", () => {
    const parsed = parseOptions([], { DATABASE_URL: "postgres://u@db:5432/x" });
    expect(parsed.kind === "run" && parsed.options.databaseUrl).toBe("postgres://u@db:5432/x");
  });
});

describe("/proc status parsing", () => {
  it("reads VmHWM and VmRSS in bytes", () => {
    const text = "Name:\tnode\nVmPeak:\t 1000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
    expect(parseProcStatus(text)).toEqual({ peakRss: 204_800 * 1024, rss: 102_400 * 1024 });
    expect(parseProcStatus("Name:\tnode\n")).toBeNull();
  });
});
