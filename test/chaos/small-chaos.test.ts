import { expect, it } from "vitest";
import { runChaos } from "../../scripts/chaos/chaos.ts";
import { DEFAULT_OPTIONS } from "../../scripts/chaos/options.ts";
import { describeOnPostgres } from "../support/db.ts";

describeOnPostgres("the chaos run, small", () => {
  it("5,000 events, 2 workers SIGKILLed twice and frozen up to 3 times, the key revoked for 3 s, faults on: every invariant of §5 holds", async () => {
    const adminUrl = process.env.DATABASE_URL;
    if (!adminUrl) throw new Error("describeOnPostgres runs only with DATABASE_URL");
    const report = await runChaos({
      ...DEFAULT_OPTIONS,
      adminUrl,
      events: 5_000,
      // No baseline phase: throughput is the script's business, not the test's.
      cleanEvents: 0,
      workers: 2,
      killEveryMs: 5_000,
      maxKills: 2,
      // Freezes longer than the lease: stale answers arrive, the settle guard must refuse them.
      freezeEveryMs: 6_000,
      freezeForMs: 7_000,
      maxFreezes: 3,
      revokeAtMs: 13_000,
      revokeForMs: 3_000,
      deadlineMs: 150_000,
      logFile: null,
    });

    expect(report.violations).toEqual([]);
    // The chaos did happen: otherwise the empty list above would prove nothing.
    expect(report.rescue.kills).toBe(2);
    expect(report.freezes.count).toBeGreaterThanOrEqual(1);
    // A freeze outlived the lease: other workers took the frozen one's events over, and the
    // answers it woke up to were refused by the settle guard (lease_lost).
    expect(report.freezes.takenOver).toBeGreaterThan(0);
    expect(report.revoke?.toMs).toEqual(expect.any(Number));
    expect(report.invariants.events).toBe(5_000);
    expect(report.invariants.poison.total).toBe(50);
    expect(report.invariants.poison.allFailedWithReason).toBe(true);
    expect(report.attempts.retry).toBeGreaterThan(0);
  }, 240_000);
});
