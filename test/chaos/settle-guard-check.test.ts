import { describe, expect, it } from "vitest";
import type { AppliedAttempt } from "../../scripts/chaos/cross-checks.ts";
import { checkInvariants } from "../../scripts/chaos/invariants.ts";
import { counted, input, poisonRow, row, T0 } from "./fixtures.ts";

describe("the settle guard (§4): a worker that lost its lease cannot overwrite a newer outcome", () => {
  const attempt = (
    worker: string,
    outcome: string,
    startedAtMs: number,
    finishedAtMs: number,
  ): AppliedAttempt => ({ eventId: "a", worker, outcome, startedAtMs, finishedAtMs });
  const check = (applied: AppliedAttempt[]) =>
    checkInvariants(input([row("a"), poisonRow], [counted("a")], { applied }));

  it("outcomes written one after another are fine, even when the clocks are a little off", () => {
    const report = check([
      attempt("w1", "retry", T0, T0 + 40),
      // The next claim came right after; its started_at estimate is 30 ms early.
      attempt("w2", "throttled", T0 + 10, T0 + 60),
      attempt("w2", "delivered", T0 + 400, T0 + 450),
    ]);
    expect(report.findings.outcome_written_after_lease_lost).toEqual([]);
  });

  it("an outcome written by a frozen worker after another worker took the event over and settled it", () => {
    const report = check([
      // w1 sends, freezes for 7 s, its lease expires, then it writes its answer.
      attempt("w1", "delivered", T0, T0 + 7_000),
      // Meanwhile w2 claimed the event, sent it and settled a retry.
      attempt("w2", "retry", T0 + 5_200, T0 + 5_300),
    ]);
    expect(report.findings.outcome_written_after_lease_lost).toEqual([
      {
        subject: "a",
        detail: 'w1 wrote "delivered" 1800 ms after w2 had begun sending the event again ("retry")',
      },
    ]);
  });

  it("…and one written while the other worker's send was still under way", () => {
    const report = check([
      attempt("w1", "retry", T0, T0 + 7_000),
      attempt("w2", "delivered", T0 + 5_000, T0 + 9_000),
    ]);
    expect(report.findings.outcome_written_after_lease_lost.map((f) => f.detail)).toEqual([
      'w1 wrote "retry" 2000 ms after w2 had begun sending the event again ("delivered")',
    ]);
  });

  it("rows written by billing sync, operators and reverts are not sends", () => {
    const report = check([
      attempt("w1", "delivered", T0, T0 + 3_000),
      attempt("stripe", "async_rejected", T0 + 1_500, T0 + 1_500),
    ]);
    expect(report.findings.outcome_written_after_lease_lost).toEqual([]);
  });
});
