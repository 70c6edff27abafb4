import { describe, expect, it } from "vitest";
import { measureFloor } from "../../bench/floor.ts";

// The floors are measured in child processes that report over IPC; a floor that cannot send
// (a sink whose signature moved, an answer the SDK cannot read) would print as "failed" in a
// long bench run, or as errors in the table. A short load of each proves both send and read.
describe("the transport floor's children", () => {
  const options = { latencyMs: 2, jitterMs: 1, quick: true };

  for (const via of ["http", "sdk"] as const) {
    it(`sends every request of the load via ${via}, each answered, and counts both processes' CPU`, async () => {
      // With a warm-up: the client waits to be told twice (after loading, after warming up).
      const f = await measureFloor(options, 40, via, 20);
      expect(f.firstError).toBeNull();
      expect(f.errors).toBe(0);
      // --quick sends 3 s of the rate.
      expect(f.requests).toBe(120);
      expect(f.warmup).toBe(20);
      expect(f.wallMs).toBeGreaterThan(2_500);
      expect(f.clientCpuMs).toBeGreaterThan(0);
      expect(f.serverCpuMs).toBeGreaterThan(0);
    }, 30_000);
  }
});
