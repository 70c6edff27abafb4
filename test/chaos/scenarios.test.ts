import { describe, expect, it } from "vitest";
import { countScenarios, SCENARIOS } from "../../scripts/chaos/scenarios.ts";
import { planOf, RECORDS, recordSent, rejectedLater, row, T0 } from "./fixtures.ts";

describe("the chaos run's scenario counts", () => {
  const asyncRow = row("g", {
    status: "failed",
    lastErrorCode: "meter_event_customer_not_found",
    lastErrorMessage: "rejected later",
  });
  const goneItem = row("i", {
    eventName: RECORDS,
    status: "failed",
    lastErrorCode: "resource_missing",
    lastErrorMessage: "no such item",
  });
  const expired = row("j", {
    status: "failed",
    lastErrorCode: "dedup_window_expired",
    lastErrorMessage: "a day old",
  });
  const input = {
    kills: 3,
    freezes: 1,
    revocations: 1,
    whilePending: 2,
    stormsHalted: 1,
    wrongAccountHalts: 1,
    jumps: 1,
    final: [asyncRow, goneItem, expired],
    planned: new Map([
      ["g", planOf(asyncRow, { poison: "customer_deleted_in_stripe" })],
      ["i", planOf(goneItem, { poison: "subscription_item_gone" })],
      ["j", planOf(expired)],
    ]),
    jumped: new Set(["j"]),
    ledger: { events: [rejectedLater("g")] },
    requests: [
      recordSent("u", T0, { status: 500, fault: "ambiguous_500" }),
      recordSent("v", T0, { status: 500, fault: "error_500", applied: false }),
    ],
    badBatches: [
      { name: "negative_value", status: 400, stored: 0 },
      { name: "unknown_field", status: 202, stored: 6 },
    ],
  };

  it("counts each case from its source", () => {
    expect(countScenarios(input)).toEqual({
      kills: 3,
      freezes: 1,
      key_revocations: 1,
      async_rejections: 1,
      async_rejections_while_pending: 2,
      usage_record_500_applied: 1,
      usage_record_500_not_applied: 1,
      systemic_storms: 1,
      wrong_account_halts: 1,
      customer_scope_failures: 1,
      clock_jumps: 1,
      dedup_window_refusals: 1,
      poison_batches_refused: 1,
    });
    expect(Object.keys(countScenarios(input)).sort()).toEqual(Object.keys(SCENARIOS).sort());
  });

  it("an asynchronous rejection counts only when the ledger shows Stripe did not count the event", () => {
    expect(countScenarios({ ...input, ledger: { events: [] } }).async_rejections).toBe(0);
  });

  it("a dead letter past the dedup window counts only for an event the jump chose", () => {
    expect(countScenarios({ ...input, jumped: new Set() }).dedup_window_refusals).toBe(0);
  });
});
