import { describe, expect, it } from "vitest";
import { checkInvariants } from "../../scripts/chaos/invariants.ts";
import { sentAfterDedupWindow, usageRecord500s } from "../../scripts/chaos/log-checks.ts";
import { parseUsageRecordKey, sentBy } from "../../scripts/chaos/request-log.ts";
import { counted, DAY, HOUR, input, poisonRow, recordSent, row, sent, T0 } from "./fixtures.ts";

describe("invariant 5 from Stripe's side: the request log, by Stripe's clock", () => {
  it("a resend within 24 h of the first send is fine, whatever was answered", () => {
    const log = [sent("a", T0, { answered: false }), sent("a", T0 + 23 * HOUR, { status: 400 })];
    expect(sentAfterDedupWindow(log, DAY)).toEqual([]);
  });

  it("a send that never got an answer starts the window: a resend a day later is caught", () => {
    // The worker recorded no attempt for the first send (no last_attempt_at): only the
    // emulator's log knows it went out. A broken first-send guard resends it after the jump.
    const log = [
      sent("a", T0, { answered: false, fault: "timeout" }),
      sent("a", T0 + DAY + HOUR, { status: 200 }),
    ];
    expect(sentAfterDedupWindow(log, DAY)).toEqual([
      {
        subject: "a",
        detail: expect.stringMatching(
          /^sent again 25.00 h after its first send by Stripe.s clock \(meter_events, answered 200, applied; sent at /,
        ),
      },
    ]);
    const report = checkInvariants(input([row("a"), poisonRow], [counted("a")], { requests: log }));
    expect(report.findings.sent_after_dedup_window).toHaveLength(1);
  });

  it("usage records count by the event their key names, over key generations", () => {
    const log = [
      recordSent("u", T0, { status: 500, fault: "error_500", applied: false }),
      recordSent("u", T0 + DAY + 1, {
        record: { item: "si_acme", timestamp: T0 / 1000, quantity: 2, generation: 1 },
      }),
    ];
    expect(sentAfterDedupWindow(log, DAY).map((f) => f.subject)).toEqual(["u"]);
  });

  it("the first send is the first made (wall clock), not the earliest by Stripe's clock", () => {
    // The storm moves Stripe's clock 40 days ahead and back: a send during it is not a late one.
    const log = [
      sent("s", T0 + 40 * DAY, { wallMs: T0 }),
      sent("s", T0 + 10_000, { wallMs: T0 + 10_000 }),
    ];
    expect(sentAfterDedupWindow(log, DAY)).toEqual([]);
  });

  it("the wrong key's account keeps its own dedup", () => {
    const log = [sent("a", T0), sent("a", T0 + 2 * DAY, { account: "other" })];
    expect(sentAfterDedupWindow(log, DAY)).toEqual([]);
  });
});

describe("the request log", () => {
  it("names the event and generation of a usage record's Idempotency-Key", () => {
    expect(parseUsageRecordKey("meterline-ur-main-12")).toEqual({ id: "main-12", generation: 0 });
    expect(parseUsageRecordKey("meterline-ur-main-12~3")).toEqual({ id: "main-12", generation: 3 });
    expect(parseUsageRecordKey("stripe-node-retry-1234")).toBeNull();
    expect(parseUsageRecordKey(null)).toBeNull();
  });

  it("reads what each usage endpoint's body sent", () => {
    const base = {
      path: "/v1/billing/meter_events",
      atMs: T0,
      endMs: T0,
      idempotencyKey: null,
      status: 200,
      answered: true,
      replayed: false,
      fault: "none" as const,
      applied: true,
    };
    expect(
      sentBy({
        ...base,
        group: "meter_events",
        body: { identifier: "a", payload: { stripe_customer_id: "cus_1", value: "2" } },
      }),
    ).toEqual({ sent: [{ id: "a", customer: "cus_1" }], record: null });
    expect(
      sentBy({
        ...base,
        group: "meter_event_stream",
        body: { events: [{ identifier: "b", payload: { stripe_customer_id: "cus_2" } }] },
      }).sent,
    ).toEqual([{ id: "b", customer: "cus_2" }]);
    expect(
      sentBy({
        ...base,
        group: "usage_records",
        path: "/v1/subscription_items/si_9/usage_records",
        idempotencyKey: "meterline-ur-c~1",
        body: { quantity: "4", timestamp: "1700000000", action: "increment" },
      }),
    ).toEqual({
      sent: [{ id: "c", customer: null }],
      record: { item: "si_9", timestamp: 1_700_000_000, quantity: 4, generation: 1 },
    });
    // Refused before the body was read (401, 429): nothing was sent.
    expect(sentBy({ ...base, group: "meter_events", body: null })).toEqual({
      sent: [],
      record: null,
    });
  });

  it("counts usage record 500s by whether the emulator applied them, replays aside", () => {
    const log = [
      recordSent("a", T0, { status: 500, fault: "ambiguous_500", applied: true }),
      recordSent("b", T0, { status: 500, fault: "error_500", applied: false }),
      recordSent("b", T0, { status: 500, fault: "none", replayed: true, applied: false }),
    ];
    expect(usageRecord500s(log)).toEqual({ applied: 1, notApplied: 1 });
  });
});
