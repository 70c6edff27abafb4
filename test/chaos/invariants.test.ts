import { describe, expect, it } from "vitest";
import { checkInvariants } from "../../scripts/chaos/invariants.ts";
import { counted, DAY, input, poisonRow, row, T0 } from "./fixtures.ts";

describe("the chaos run's invariant checker (design.md §5)", () => {
  it("a clean run: every healthy event reported once, the poison event failed with its reason", () => {
    const report = checkInvariants(
      input([row("a"), row("b"), poisonRow], [counted("a"), counted("b")]),
    );
    expect(report.violations).toEqual([]);
    expect(report.byStatus).toEqual({ reported: 2, failed: 1 });
    expect(report.failedByCode).toEqual({ customer_deleted: 1 });
    expect(report.poison).toEqual({
      total: 1,
      allFailedWithReason: true,
      byKind: {
        customer_deleted: {
          total: 1,
          failedWithReason: 1,
          expectedCode: 1,
          codes: { customer_deleted: 1 },
        },
      },
    });
  });

  it("a double count: the same identifier counted twice is reported, and so is the total above the sum", () => {
    const report = checkInvariants(
      input([row("a"), row("b"), poisonRow], [counted("a"), counted("b"), counted("a")]),
    );
    expect(report.doubleCounted).toEqual([{ subject: "a", detail: "counted 2 times by Stripe" }]);
    expect(report.totalsMismatch).toEqual([
      {
        subject: "cus_acme × calls",
        detail: "Stripe holds 6, reported events sum to 4 (over: double count)",
      },
    ]);
    expect(report.violations).toHaveLength(2);
    expect(report.violations[0]).toMatch(/^§5\.2 double-counted: 1 /);
  });

  it("an event Stripe counted that the outbox dead-lettered is a double count too", () => {
    const billedPoison = counted("bad-1", 2, "cus_gone");
    const report = checkInvariants(input([row("a"), poisonRow], [counted("a"), billedPoison]));
    expect(report.doubleCounted).toEqual([
      { subject: "bad-1", detail: "counted by Stripe but failed" },
    ]);
  });

  it("a lost event: pending at the end, or reported but absent from the ledger", () => {
    const report = checkInvariants(
      input(
        [row("a"), row("b"), row("c", { status: "pending", waitReason: "retry" }), poisonRow],
        [counted("a")],
      ),
    );
    expect(report.lost).toEqual([
      { subject: "c", detail: "still pending (retry)" },
      { subject: "b", detail: "reported, but Stripe does not count it" },
    ]);
    expect(report.totalsMismatch).toEqual([
      {
        subject: "cus_acme × calls",
        detail: "Stripe holds 2, reported events sum to 4 (under: loss)",
      },
    ]);
    expect(report.violations[0]).toMatch(/^§5\.1\/§5\.2 lost: 2 /);
  });

  it("a run cut short: an event Stripe counted but still pending is lost, not double-counted", () => {
    const report = checkInvariants(
      input(
        [row("a"), row("b", { status: "pending", waitReason: "retry" }), poisonRow],
        [counted("a"), counted("b")],
      ),
    );
    expect(report.lost).toEqual([{ subject: "b", detail: "still pending (retry)" }]);
    expect(report.doubleCounted).toEqual([]);
    expect(report.totalsMismatch).toEqual([]);
  });

  it("a pending event with no visible reason says so", () => {
    const report = checkInvariants(
      input([row("a"), row("c", { status: "pending" }), poisonRow], [counted("a")]),
    );
    expect(report.lost).toEqual([
      { subject: "c", detail: "still pending (no visible reason (§5.1))" },
    ]);
  });

  it("a wrongly failed event: a healthy event dead-lettered, e.g. during a key revocation", () => {
    const revoked = row("b", {
      status: "failed",
      lastErrorCode: "api_key_invalid",
      lastErrorMessage: "Invalid API Key provided",
      lastHttpStatus: 401,
    });
    const report = checkInvariants(input([row("a"), revoked, poisonRow], [counted("a")]));
    expect(report.wronglyFailed).toEqual([{ subject: "b", detail: "failed: api_key_invalid" }]);
    // A 401 is account-wide: no event, healthy or not, may be failed for it (§5.3).
    expect(report.badDeadLetters).toEqual([
      { subject: "b", detail: "failed on an account-wide 401 (api_key_invalid)" },
    ]);
    expect(report.violations.map((v) => v.split(":")[0])).toEqual([
      "§5.3 wrongly failed (healthy events dead-lettered)",
      "§5.1/§5.3 bad dead letters",
    ]);
  });

  it("a poison event that was reported, or failed for another reason, is flagged by kind", () => {
    const report = checkInvariants(
      input(
        [
          row("a"),
          { ...poisonRow, lastErrorCode: "retries_exhausted", lastErrorMessage: "gave up" },
        ],
        [counted("a")],
      ),
    );
    expect(report.poison.allFailedWithReason).toBe(true);
    expect(report.poison.byKind.customer_deleted?.expectedCode).toBe(0);
    expect(report.violations).toEqual([
      "poison customer_deleted: 1 of 1 did not end failed with customer_deleted (retries_exhausted 1)",
    ]);

    const reported = checkInvariants(
      input([row("a"), row("bad-1")], [counted("a"), counted("bad-1")]),
    );
    expect(reported.poison.allFailedWithReason).toBe(false);
    expect(reported.violations).toEqual([
      "poison customer_deleted: 1 of 1 did not end failed with customer_deleted (reported 1)",
    ]);
  });

  it("a dead letter without a code or message breaks §5.1", () => {
    const report = checkInvariants(
      input([row("a"), { ...poisonRow, lastErrorMessage: null }], [counted("a")]),
    );
    expect(report.badDeadLetters).toEqual([
      { subject: "bad-1", detail: "failed without a code and a message" },
    ]);
    expect(report.poison.allFailedWithReason).toBe(false);
  });

  it("a send after the dedup window breaks §5.5", () => {
    const late = row("a", { firstAmbiguousAtMs: T0 - DAY, lastAttemptAtMs: T0 });
    const report = checkInvariants(input([late, poisonRow], [counted("a")]));
    expect(report.lateSends).toEqual([
      { subject: "a", detail: "sent after the dedup window had passed" },
    ]);
  });

  it("an identifier Stripe counted that the outbox never had is a double count", () => {
    const report = checkInvariants(input([row("a"), poisonRow], [counted("a"), counted("zzz")]));
    expect(report.doubleCounted).toEqual([
      { subject: "zzz", detail: "counted by Stripe, unknown to the outbox" },
    ]);
  });
});
