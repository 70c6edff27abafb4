import type Stripe from "stripe";
import type { Clock } from "../clock.ts";
import { unixSeconds } from "../clock.ts";
import { invalidRequest, resourceMissing } from "../errors.ts";
import { newMeterId } from "../ids.ts";
import type { Store } from "./store.ts";

/** Stripe's default payload key naming the customer of a meter event. */
export const DEFAULT_CUSTOMER_KEY = "stripe_customer_id";
/** Stripe's default payload key holding a meter event's value. */
export const DEFAULT_VALUE_KEY = "value";

/** How events are aggregated per billing period. */
export type MeterFormula = "sum" | "count" | "last";

/** What a meter is created from, after parameter parsing. */
export interface MeterInput {
  /** Name shown in the dashboard. */
  display_name: string;
  /** The meter event name this meter aggregates. */
  event_name: string;
  /** sum | count | last. */
  formula: MeterFormula;
  /** Payload key of the customer id; default `stripe_customer_id`. */
  customerKey: string;
  /** Payload key of the value; default `value`. */
  valueKey: string;
  /** Pre-aggregation window, if any. */
  event_time_window: "day" | "hour" | null;
}

/**
 * Stripe routes a meter event to a meter by `event_name`, so two active meters must not share
 * one. Stripe's exact refusal is unverified; the emulator answers 400 with this message.
 */
function assertEventNameFree(store: Store, eventName: string, exceptId?: string): void {
  for (const m of store.meters.values()) {
    if (m.id !== exceptId && m.status === "active" && m.event_name === eventName) {
      throw invalidRequest(`An active meter with event_name '${eventName}' already exists.`, {
        param: "event_name",
      });
    }
  }
}

/** Create an active meter, shaped like fixtures3.json's `billing.meter`. */
export function createMeter(
  store: Store,
  clock: Clock,
  livemode: boolean,
  input: MeterInput,
): Stripe.Billing.Meter {
  assertEventNameFree(store, input.event_name);
  const now = unixSeconds(clock);
  const meter: Stripe.Billing.Meter = {
    id: newMeterId(),
    object: "billing.meter",
    created: now,
    customer_mapping: { event_payload_key: input.customerKey, type: "by_id" },
    default_aggregation: { formula: input.formula },
    display_name: input.display_name,
    event_name: input.event_name,
    event_time_window: input.event_time_window,
    livemode,
    status: "active",
    status_transitions: { deactivated_at: null },
    updated: now,
    value_settings: { event_payload_key: input.valueKey },
  };
  store.meters.set(meter.id, meter);
  store.changed({ k: "meter", id: meter.id, v: meter });
  return structuredClone(meter);
}

/** The meter with this id, or Stripe's 404. (Stripe's exact noun in the message is unverified.) */
function findMeter(store: Store, id: string): Stripe.Billing.Meter {
  const meter = store.meters.get(id);
  if (!meter) throw resourceMissing("billing.meter", id);
  return meter;
}

/** Retrieve a meter by id. */
export function retrieveMeter(store: Store, id: string): Stripe.Billing.Meter {
  return structuredClone(findMeter(store, id));
}

/** Update the one field Stripe lets change: display_name. */
export function updateMeter(
  store: Store,
  clock: Clock,
  id: string,
  displayName: string | undefined,
): Stripe.Billing.Meter {
  const meter = findMeter(store, id);
  if (displayName !== undefined) {
    meter.display_name = displayName;
    meter.updated = unixSeconds(clock);
    store.changed({ k: "meter", id, v: meter });
  }
  return structuredClone(meter);
}

/**
 * Deactivate or reactivate. Events for an inactive meter are accepted but not counted
 * (`archived_meter`). Repeating the current status is a no-op here; whether Stripe refuses it
 * is unverified.
 */
export function setMeterStatus(
  store: Store,
  clock: Clock,
  id: string,
  status: "active" | "inactive",
): Stripe.Billing.Meter {
  const meter = findMeter(store, id);
  if (meter.status !== status) {
    if (status === "active") assertEventNameFree(store, meter.event_name, meter.id);
    const now = unixSeconds(clock);
    meter.status = status;
    meter.status_transitions = { deactivated_at: status === "inactive" ? now : null };
    meter.updated = now;
    store.changed({ k: "meter", id, v: meter });
  }
  return structuredClone(meter);
}

/** Copies of all meters, oldest first (lists reverse them). */
export function allMeters(store: Store): Stripe.Billing.Meter[] {
  return [...store.meters.values()].map((meter) => structuredClone(meter));
}

/**
 * The meter a meter event with `eventName` belongs to: the active one, else the most recently
 * created inactive one (so the event is recorded as `archived_meter`), else null (`no_meter`).
 */
export function meterForEvent(store: Store, eventName: string): Stripe.Billing.Meter | null {
  let inactive: Stripe.Billing.Meter | null = null;
  for (const meter of store.meters.values()) {
    if (meter.event_name !== eventName) continue;
    if (meter.status === "active") return meter;
    inactive = meter;
  }
  return inactive;
}
