import type { AppliedAttempt } from "../../scripts/chaos/cross-checks.ts";
import type { InvariantInput, OutboxRow } from "../../scripts/chaos/invariants.ts";
import type { Ledger } from "../../src/emulator/index.ts";

/** A day, in ms. */
export const DAY = 24 * 3_600_000;
/** The fixed "now" of these tests. */
export const T0 = Date.parse("2026-11-24T12:00:00Z");

/** An outbox row at the end of a run: reported unless overridden. */
export function row(id: string, overrides: Partial<OutboxRow> = {}): OutboxRow {
  return {
    id,
    customerKey: "acme",
    stripeCustomerId: "cus_acme",
    eventName: "calls",
    value: 2,
    status: "reported",
    waitReason: null,
    lastErrorCode: null,
    lastErrorMessage: null,
    lastHttpStatus: null,
    firstAmbiguousAtMs: null,
    lastAttemptAtMs: T0,
    ...overrides,
  };
}

/** One meter event as the emulator's ledger keeps it. */
export type LedgerEvent = Ledger["events"][number];

/** A counted meter event in the ledger. */
export function counted(identifier: string, value = 2, customer = "cus_acme"): LedgerEvent {
  return {
    identifier,
    event_name: "calls",
    customer,
    value,
    timestamp: T0 / 1000,
    created: T0 / 1000,
    counted: true,
    reason: null,
    meter: "mtr_1",
  };
}

/** A ledger whose totals are what its counted events add up to, as the emulator keeps them. */
export function ledgerOf(events: LedgerEvent[]): Ledger {
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

/** The one poison event of these tests, dead-lettered with its reason. */
export const poisonRow = row("bad-1", {
  customerKey: "gone",
  stripeCustomerId: "cus_gone",
  status: "failed",
  lastErrorCode: "customer_deleted",
  lastErrorMessage: "customer gone was deleted in Meterline",
});

/** The checker's input: these rows and ledger events, bad-1 as the poison event. */
export function input(
  rows: OutboxRow[],
  events: LedgerEvent[],
  applied: AppliedAttempt[] = [],
): InvariantInput {
  return {
    applied,
    ledger: ledgerOf(events),
    rows,
    poison: new Map([["bad-1", "customer_deleted"]]),
    expectedCodes: { customer_deleted: "customer_deleted" },
    dedupWindowMs: 23 * 3_600_000,
  };
}
