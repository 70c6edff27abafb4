import { describe, expect, it } from "vitest";
import type { Ledger } from "../../src/emulator/index.ts";
import { checkRun, checkStep, type RunFacts } from "./invariants.ts";
import { initialModel, type Model, type ModelEvent } from "./model.ts";
import type { LoggedRequest } from "./request-log.ts";
import type { EventRow, Snapshot } from "./world.ts";

const T0 = Date.parse("2026-11-24T12:00:00Z");
const HOUR = 3_600_000;

function event(id: string, overrides: Partial<ModelEvent> = {}): ModelEvent {
  return {
    id,
    kind: "healthy",
    mode: "meter_events",
    customerKey: "h0",
    value: 2,
    ingestedAtMs: T0,
    jumpedMsAtIngest: 0,
    killsAtIngest: 0,
    jumpsAtIngest: 0,
    ...overrides,
  };
}

function row(id: string, overrides: Partial<EventRow> = {}): EventRow {
  return {
    id,
    customerKey: "h0",
    eventName: "calls",
    value: 2,
    status: "reported",
    waitReason: null,
    code: null,
    message: null,
    httpStatus: null,
    ...overrides,
  };
}

type LedgerEvent = Ledger["events"][number];

function counted(identifier: string, overrides: Partial<LedgerEvent> = {}): LedgerEvent {
  return {
    identifier,
    event_name: "calls",
    customer: "cus_h0",
    value: 2,
    timestamp: T0 / 1000,
    created: T0 / 1000,
    counted: true,
    reason: null,
    meter: "mtr_1",
    ...overrides,
  };
}

function sent(id: string, atMs = T0, overrides: Partial<LoggedRequest> = {}): LoggedRequest {
  return {
    group: "meter_events",
    atMs,
    status: 200,
    answered: true,
    replayed: false,
    fault: "none",
    applied: true,
    ids: [id],
    record: null,
    ...overrides,
  };
}

function ledgerOf(events: LedgerEvent[]): Ledger {
  const totals = new Map<string, Ledger["totals"][number]>();
  for (const e of events) {
    if (!e.counted || e.customer === null) continue;
    const key = `${e.customer}|${e.event_name}`;
    const t = totals.get(key) ?? { customer: e.customer, event_name: e.event_name, value: 0 };
    t.value += e.value;
    totals.set(key, t);
  }
  return { totals: [...totals.values()], events, usage_records: [] };
}

function modelOf(events: ModelEvent[], patch: Partial<Model> = {}): Model {
  return { ...initialModel(), events, ...patch };
}

function check(
  model: Model,
  rows: EventRow[],
  ledger: LedgerEvent[],
  requests: LoggedRequest[],
  phase: RunFacts["phase"] = "system",
): string[] {
  const snapshot: Snapshot = { rows, ledger: ledgerOf(ledger), requests, nowMs: T0 + 60_000 };
  return checkRun(snapshot, {
    model,
    stripeIdOf: new Map([
      ["h0", "cus_h0"],
      ["ghost", "cus_ghost"],
      ["gone", "cus_gone"],
    ]),
    maxAttempts: 6,
    phase,
    unnamedRejections: 0,
    undeliveredWebhooks: 0,
  });
}

describe("the model run's invariant checks", () => {
  const healthy = modelOf([event("e1")]);

  it("a clean run: each event reported and counted once, nothing else counted", () => {
    expect(check(healthy, [row("e1")], [counted("e1")], [sent("e1")])).toEqual([]);
    expect(check(healthy, [row("e1")], [counted("e1")], [sent("e1")], "reconciled")).toEqual([]);
  });

  it("catches an identifier Stripe counted twice", () => {
    const found = check(healthy, [row("e1")], [counted("e1"), counted("e1")], [sent("e1")]);
    expect(found).toContain("e1: Stripe counted this identifier 2 times (double count)");
    expect(
      checkStep(
        {
          rows: [row("e1")],
          ledger: ledgerOf([counted("e1"), counted("e1")]),
          requests: [],
          nowMs: T0,
        },
        healthy,
      ),
    ).toContain("e1: Stripe counted this identifier 2 times (double count)");
  });

  it("catches a reported event Stripe never counted, unless a person resolved it", () => {
    expect(check(healthy, [row("e1")], [], [])).toContain(
      "e1: reported, but Stripe did not count it (healthy, meter_events)",
    );
    const resolved = modelOf([event("e1")], { resolved: new Set(["e1"]) });
    expect(check(resolved, [row("e1")], [], [])).toEqual([]);
  });

  it("catches a counted event that is not reported; a safe give-up is excused until the reconcile", () => {
    const gaveUp = row("e1", {
      status: "failed",
      code: "retries_exhausted",
      message: "gave up",
      httpStatus: 500,
    });
    const six = Array.from({ length: 6 }, (_, i) => sent("e1", T0 + i, { status: 500 }));
    expect(check(healthy, [gaveUp], [counted("e1")], six)).toEqual([]);
    expect(check(healthy, [gaveUp], [counted("e1")], six, "reconciled")).toEqual([
      "e1: Stripe counted it, but it is failed (retries_exhausted)",
      "e1: a healthy event is failed (retries_exhausted) after the reconcile",
      '["cus_h0","calls"]: Stripe holds 2, the reported events sum to 0 (§5.2)',
    ]);
  });

  it("catches a give-up the run does not explain", () => {
    const gaveUp = row("e1", { status: "failed", code: "retries_exhausted", message: "gave up" });
    expect(check(healthy, [gaveUp], [], [sent("e1", T0, { status: 500 })])).toEqual([
      "e1: a healthy event failed as retries_exhausted: only 1 request(s) reached Stripe, max attempts is 6",
    ]);
    const expired = row("e1", { status: "failed", code: "dedup_window_expired", message: "late" });
    expect(check(healthy, [expired], [], [])[0]).toMatch(
      /dedup_window_expired: only 0\.02 h passed/,
    );
  });

  it("catches an asynchronously rejected event left reported", () => {
    const model = modelOf([event("g1", { kind: "ghost", customerKey: "ghost" })]);
    const rejected = counted("g1", {
      customer: "cus_ghost",
      counted: false,
      reason: "meter_event_customer_not_found",
    });
    expect(check(model, [row("g1", { customerKey: "ghost" })], [rejected], [sent("g1")])).toEqual([
      "g1: reported, but Stripe did not count it (ghost, meter_events)",
      "g1: Stripe rejected it asynchronously (meter_event_customer_not_found), yet it is reported",
      "g1: an event of a customer unknown to Stripe is reported, not failed",
    ]);
  });

  it("catches a send after Stripe's 24 h dedup, and after the 23 h window", () => {
    const late = [sent("e1", T0), sent("e1", T0 + 24 * HOUR)];
    expect(check(healthy, [row("e1")], [counted("e1")], late)).toEqual([
      "e1: sent 24.00 h after its first send: Stripe no longer dedups it",
    ]);
    const past = [sent("e1", T0), sent("e1", T0 + 23.5 * HOUR)];
    expect(check(healthy, [row("e1")], [counted("e1")], past)).toEqual([
      "e1: sent 23.50 h after its first send, past the 23 h window (§5.5)",
    ]);
  });

  it("catches an event failed for the account, and a poison event sent", () => {
    const model = modelOf([event("d1", { kind: "deleted", customerKey: "gone" })]);
    const failed401 = row("d1", {
      customerKey: "gone",
      status: "failed",
      code: "customer_deleted",
      message: "m",
      httpStatus: 401,
    });
    expect(
      check(model, [failed401], [], [sent("d1", T0, { applied: false, status: 401 })]),
    ).toEqual([
      "d1: failed on an account-wide 401 (customer_deleted) (§5.3)",
      "d1: a deleted customer's event was sent to Stripe",
    ]);
  });

  it("an unlinked customer's event waits inside the hold and fails after it", () => {
    const waiting = modelOf([event("u1", { kind: "unlinked", customerKey: "u" })]);
    const pending = row("u1", {
      customerKey: "u",
      status: "pending",
      waitReason: "customer_unlinked",
    });
    expect(check(waiting, [pending], [], [])).toEqual([]);
    const dayLater = modelOf([event("u1", { kind: "unlinked", customerKey: "u" })], {
      jumpedMs: 25 * HOUR,
      jumps: 1,
    });
    expect(check(dayLater, [pending], [], [])).toEqual([
      "u1: unlinked for 25.02 h: pending (customer_unlinked), expected failed customer_unlinked",
    ]);
  });
});
