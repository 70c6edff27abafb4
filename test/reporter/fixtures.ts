import { defaultConfig } from "../../src/config.ts";
import type { Customer } from "../../src/db/schema/customers.ts";
import type { Meter } from "../../src/db/schema/meters.ts";
import type { ClaimedEvent } from "../../src/outbox/claim.ts";
import type { SettleRow } from "../../src/outbox/settle.ts";
import type { UsageSink } from "../../src/reporter/sinks/port.ts";

/** The default worker settings: the unit tests check the product's real defaults. */
export const settings = defaultConfig().worker;

/** A fixed "now" for pure tests. */
export const NOW = new Date("2026-11-24T12:00:00.000Z");

/** Milliseconds in an hour. */
export const HOUR = 3_600_000;
/** Milliseconds in a day. */
export const DAY = 24 * HOUR;

/** A claimed event, healthy unless overridden. */
export function event(overrides: Partial<ClaimedEvent> = {}): ClaimedEvent {
  return {
    id: "evt_1",
    customerKey: "acme",
    eventName: "api_calls",
    value: 3,
    occurredAt: new Date(NOW.getTime() - 60_000),
    receivedAt: new Date(NOW.getTime() - 30_000),
    attempts: 0,
    claims: 1,
    openClaims: 1,
    firstSentAt: null,
    keyGeneration: 0,
    firstAmbiguousAt: null,
    waitReason: null,
    ...overrides,
  };
}

/** An active, linked customer unless overridden. */
export function customer(overrides: Partial<Customer> = {}): Customer {
  return {
    key: "acme",
    stripeCustomerId: "cus_acme",
    status: "active",
    createdAt: new Date(NOW.getTime() - DAY),
    updatedAt: new Date(NOW.getTime() - DAY),
    deletedAt: null,
    ...overrides,
  };
}

/** An active meter with Stripe's default payload keys unless overridden. */
export function meter(overrides: Partial<Meter> = {}): Meter {
  return {
    eventName: "api_calls",
    stripeMeterId: "mtr_1",
    status: "active",
    deliveryMode: "meter_events",
    customerPayloadKey: "stripe_customer_id",
    valuePayloadKey: "value",
    createdAt: new Date(NOW.getTime() - DAY),
    updatedAt: new Date(NOW.getTime() - DAY),
    ...overrides,
  };
}

/** The settle row of a delivery (200) of a claimed event, as the worker writes it. */
export function delivered(e: { id: string; attempts: number; claims: number }): SettleRow {
  const startedAt = new Date();
  return {
    id: e.id,
    attempts: e.attempts,
    claims: e.claims,
    status: "reported",
    counted: true,
    delayMs: 0,
    waitReason: null,
    error: null,
    stripeRequestId: "req_1",
    firstAmbiguousAt: null,
    sentAt: startedAt,
    attempt: {
      outcome: "delivered",
      httpStatus: 200,
      stripeCode: null,
      requestId: "req_1",
      message: "accepted",
      startedAt,
    },
  };
}

/** A sink that answers every request 200 and calls nobody: for the pure queue and limit rules. */
export function okSink(overrides: Partial<UsageSink> & Pick<UsageSink, "mode">): UsageSink {
  const ok = async () => ({ kind: "ok", status: 200, requestId: null }) as const;
  return { dedup: "identifier", send: ok, ...overrides };
}
