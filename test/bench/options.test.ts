import { describe, expect, it } from "vitest";
import { parseOptions } from "../../bench/options.ts";
import { parseProcStatus } from "../../bench/support/proc.ts";

describe("bench flags", () => {
  it("--quick picks the small sizes, and explicit flags win over them", () => {
    const parsed = parseOptions(["--quick", "--events", "300", "--only", "ingest,e2e"], {});
    expect(parsed.kind).toBe("run");
    if (parsed.kind !== "run") return;
    expect(parsed.options).toMatchObject({
      quick: true,
      events: 300,
      baselineWindowS: 10,
      backlogLarge: 50_000,
      tables: ["e2e", "ingest"],
      databaseUrl: "postgres://postgres@127.0.0.1:5432/postgres",
    });
  });

  it("names the flag and the rule of a bad value", () => {
    const parsed = parseOptions(["--latency", "1.5", "--only", "nope"], {});
    expect(parsed).toEqual({
      kind: "error",
      message:
        '--only takes e2e, ingest, backlog; got "nope"\n--latency must be a whole number ≥ 0, got "1.5"',
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
