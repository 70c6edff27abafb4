import type { AppliedAttempt, OutboxRow } from "../../scripts/chaos/cross-checks.ts";
import type { InvariantInput } from "../../scripts/chaos/invariants.ts";
import { modeOf, type PlannedEvent } from "../../scripts/chaos/plan.ts";
import type { LoggedRequest } from "../../scripts/chaos/request-log.ts";
import type { Ledger } from "../../src/emulator/index.ts";

/** An hour and a day, in ms. */
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** The fixed "now" of these tests. */
export const T0 = Date.parse("2026-11-24T12:00:00Z");

/** A v1 meter, a stream meter and a usage-record meter of the chaos run. */
export const V1 = "chaos_calls_v1";
export const STREAM = "chaos_calls_stream";
export const RECORDS = "chaos_seats_records";

/** An outbox row at the end of a run: a reported v1 event unless overridden. */
export function row(id: string, overrides: Partial<OutboxRow> = {}): OutboxRow {
  return {
    id,
    customerKey: "acme",
    stripeCustomerId: "cus_acme",
    eventName: V1,
    value: 2,
    status: "reported",
    waitReason: null,
    lastErrorCode: null,
    lastErrorMessage: null,
    lastHttpStatus: null,
    ...overrides,
  };
}

/** The plan of a row: healthy, main phase, as stored. */
export function planOf(r: OutboxRow, overrides: Partial<PlannedEvent> = {}): PlannedEvent {
  return {
    id: r.id,
    customerKey: r.customerKey,
    eventName: r.eventName,
    value: r.value,
    occurredAt: new Date(T0),
    poison: null,
    phase: "main",
    viaApi: false,
    ...overrides,
  };
}

/** One meter event as the emulator's ledger keeps it. */
export type LedgerEvent = Ledger["events"][number];

/** A counted meter event in the ledger. */
export function counted(
  identifier: string,
  value = 2,
  customer = "cus_acme",
  eventName = V1,
): LedgerEvent {
  return {
    identifier,
    event_name: eventName,
    customer,
    value,
    timestamp: T0 / 1000,
    created: T0 / 1000,
    counted: true,
    reason: null,
    meter: "mtr_1",
  };
}

/** A meter event Stripe accepted and rejected asynchronously. */
export function rejectedLater(identifier: string, reason = "meter_event_customer_not_found") {
  return { ...counted(identifier), counted: false, reason };
}

/** A logged request: a v1 meter event sent at `atMs` (Stripe's clock), answered 200 and applied. */
export function sent(
  id: string,
  atMs: number,
  overrides: Partial<LoggedRequest> = {},
): LoggedRequest {
  return {
    account: "main",
    group: "meter_events",
    atMs,
    wallMs: atMs,
    status: 200,
    answered: true,
    replayed: false,
    fault: "none",
    applied: true,
    sent: [{ id, customer: "cus_acme" }],
    record: null,
    ...overrides,
  };
}

/** A logged usage record request for `id`'s key, applied unless overridden. */
export function recordSent(
  id: string,
  atMs: number,
  overrides: Partial<LoggedRequest> = {},
  quantity = 2,
): LoggedRequest {
  return sent(id, atMs, {
    group: "usage_records",
    sent: [{ id, customer: null }],
    record: { item: "si_acme", timestamp: T0 / 1000, quantity, generation: 0 },
    ...overrides,
  });
}

/** The ledger's usage record applied by `recordSent`. */
export function ledgerRecord(quantity = 2): Ledger["usage_records"][number] {
  return {
    id: `mbur_${quantity}`,
    subscription_item: "si_acme",
    customer: "cus_acme",
    event_name: RECORDS,
    quantity,
    action: "increment",
    timestamp: T0 / 1000,
    created: T0 / 1000,
  };
}

/** A ledger whose totals are what its counted events and records add up to, as the emulator keeps them. */
export function ledgerOf(events: LedgerEvent[], records: Ledger["usage_records"] = []): Ledger {
  const totals = new Map<string, Ledger["totals"][number]>();
  const add = (customer: string, eventName: string, value: number) => {
    const key = `${customer}|${eventName}`;
    const t = totals.get(key) ?? { customer, event_name: eventName, value: 0 };
    t.value += value;
    totals.set(key, t);
  };
  for (const e of events)
    if (e.counted && e.customer !== null) add(e.customer, e.event_name, e.value);
  for (const r of records) add(r.customer, r.event_name, r.quantity);
  return { totals: [...totals.values()], events, usage_records: records };
}

/** The one poison event of these tests, dead-lettered with its reason. */
export const poisonRow = row("bad-1", {
  customerKey: "gone",
  stripeCustomerId: "cus_gone",
  status: "failed",
  lastErrorCode: "customer_deleted",
  lastErrorMessage: "customer gone was deleted in Meterline",
});

/** The checker's input: these rows (final = reconciled), ledger and log; bad-1 is the poison event. */
export function input(
  rows: OutboxRow[],
  events: LedgerEvent[],
  overrides: Partial<InvariantInput> & { records?: Ledger["usage_records"] } = {},
): InvariantInput {
  const { records = [], ...rest } = overrides;
  const planned = new Map(
    rows.map((r) => [
      r.id,
      r.id === "bad-1" ? planOf(r, { poison: "customer_deleted" }) : planOf(r),
    ]),
  );
  const requests = events.map((e) => sent(e.identifier, T0));
  return {
    planned,
    notAccepted: new Set(),
    final: rows,
    reconciled: rows,
    resolved: new Set(),
    ledger: ledgerOf(events, records),
    otherLedger: null,
    requests,
    stripeDedupWindowMs: DAY,
    jumped: new Set(),
    disrupted: new Map(),
    crashLoopClaims: 5,
    applied: [] as AppliedAttempt[],
    badBatches: [],
    modeOf: (name) => {
      try {
        return modeOf(name);
      } catch {
        return null;
      }
    },
    productReconciliation: { drift: [] },
    ...rest,
  };
}
