import type Stripe from "stripe";
import type { Clock } from "../clock.ts";
import { unixSeconds } from "../clock.ts";
import { invalidRequest, parameterMissing, StripeHttpError } from "../errors.ts";
import { newEventIdentifier } from "../ids.ts";
import type { LedgerEvent } from "../ledger.ts";
import {
  optionalInteger,
  optionalString,
  optionalStringMap,
  type Params,
  rejectUnknown,
  requiredString,
} from "../params.ts";
import { type AsyncErrorCode, asyncErrorMessage } from "./async-errors.ts";
import { isLiveCustomer } from "./customers.ts";
import { DEFAULT_CUSTOMER_KEY, DEFAULT_VALUE_KEY, meterForEvent } from "./meters.ts";
import type { Store } from "./store.ts";

/** Longest event_name and identifier Stripe accepts. */
export const MAX_NAME_LENGTH = 100;
/** Oldest accepted timestamp: 35 days back (Stripe: "within the past 35 calendar days"). */
export const MAX_AGE_SECONDS = 35 * 24 * 60 * 60;
/** Furthest accepted timestamp ahead: 5 minutes. */
export const MAX_AHEAD_SECONDS = 5 * 60;
/**
 * How long an identifier is remembered. Stripe promises "at least 24 hours"; the emulator
 * forgets at exactly 24 h so a reporter that relies on more is caught in tests.
 */
export const DEDUP_WINDOW_MS = 24 * 60 * 60 * 1000;

const PARAMS = ["event_name", "payload", "identifier", "timestamp", "expand"] as const;

/**
 * Validate and apply one v1 meter event. Synchronous 400s (stripe-facts.md, "What is rejected
 * at once"): request shape, the timestamp window and a repeated identifier. The customer and
 * the meter are checked as Stripe does, asynchronously: the event is accepted either way, and
 * recorded in the ledger as not counted with the reason a later error report will carry.
 *
 * The exact messages and codes of the synchronous errors are not documented by Stripe; the
 * codes reuse Stripe's asynchronous meter error codes, the messages name the field and the rule.
 * Those codes lie outside Stripe's enum of api_errors.code on purpose: the reporter acts on
 * them (src/reporter/classify.ts), and the conformance suite forgives exactly these
 * (test/emulator/conformance/openapi/deviations.ts).
 */
export function createMeterEvent(
  store: Store,
  clock: Clock,
  livemode: boolean,
  params: Params,
  began: () => void = () => {},
): Stripe.Billing.MeterEvent {
  rejectUnknown(params, PARAMS);
  const eventName = requiredString(params, "event_name", { maxLength: MAX_NAME_LENGTH });
  const payload = optionalStringMap(params, "payload");
  if (payload === undefined) throw parameterMissing("payload");
  const identifier = optionalString(params, "identifier", { maxLength: MAX_NAME_LENGTH });
  const now = unixSeconds(clock);
  const timestamp = optionalInteger(params, "timestamp") ?? now;
  checkTimestampWindow(timestamp, now);

  // Key names come from the meter when one exists; otherwise Stripe's defaults.
  const meter = meterForEvent(store, eventName);
  const customerKey = meter?.customer_mapping.event_payload_key ?? DEFAULT_CUSTOMER_KEY;
  const valueKey = meter?.value_settings.event_payload_key ?? DEFAULT_VALUE_KEY;
  const customer = payload[customerKey];
  if (customer === undefined || customer === "") {
    throw invalidRequest(`Customer mapping key ${customerKey} not found in payload.`, {
      param: `payload[${customerKey}]`,
      code: "meter_event_no_customer_defined",
    });
  }
  const value = parseValue(payload[valueKey], valueKey);
  // The parameters are valid: from here the idempotency layer keeps even a 400 (duplicate).
  began();

  if (identifier !== undefined) checkNotDuplicate(store, clock, identifier);
  const id = identifier ?? newEventIdentifier();
  const at = clock.now();
  store.identifiers.set(id, at);
  store.changed({ k: "identifier", id, at });

  const reason = routingFailure(store, meter, eventName, customer);
  recordAccepted(
    store,
    clock,
    livemode,
    {
      identifier: id,
      event_name: eventName,
      customer,
      value,
      timestamp,
      created: now,
      counted: reason === null,
      reason: reason?.code ?? null,
      meter: meter?.id ?? null,
    },
    reason?.message ?? "",
  );

  return {
    object: "billing.meter_event",
    created: now,
    event_name: eventName,
    identifier: id,
    livemode,
    payload: { ...payload },
    timestamp,
  };
}

/**
 * The asynchronous failure of an event whose shape is valid: no meter for its event_name, an
 * inactive meter, an unknown or deleted customer. Null when the event counts.
 */
export function routingFailure(
  store: Store,
  meter: Stripe.Billing.Meter | null,
  eventName: string,
  customer: string,
): { code: AsyncErrorCode; message: string } | null {
  let code: AsyncErrorCode | null = null;
  let detail = eventName;
  if (meter === null) code = "no_meter";
  else if (meter.status !== "active") code = "archived_meter";
  else if (!isLiveCustomer(store, customer)) {
    code = "meter_event_customer_not_found";
    detail = customer;
  }
  return code === null ? null : { code, message: asyncErrorMessage(code, detail) };
}

/**
 * Put an accepted event in the ledger; an uncounted one also waits in the async error log for
 * the next error report (its `reason` is the report's code).
 */
export function recordAccepted(
  store: Store,
  clock: Clock,
  live: boolean,
  event: LedgerEvent,
  message: string,
): void {
  store.ledger.record(event);
  store.changed({ k: "event", v: event });
  const code = event.reason;
  if (code === null || !isAsyncCode(code)) return;
  store.asyncErrors.add({
    code,
    message,
    identifier: event.identifier,
    meter: event.meter,
    atMs: clock.now(),
    live,
  });
}

const ASYNC_CODES = new Set<string>([
  "archived_meter",
  "meter_event_customer_not_found",
  "meter_event_dimension_count_too_high",
  "meter_event_invalid_value",
  "meter_event_no_customer_defined",
  "meter_event_value_too_many_digits",
  "missing_dimension_payload_keys",
  "no_meter",
  "timestamp_in_future",
  "timestamp_too_far_in_past",
]);

/** Whether a ledger reason is one of Stripe's error report codes (a duplicate is not). */
function isAsyncCode(reason: string): reason is AsyncErrorCode {
  return ASYNC_CODES.has(reason);
}

function checkTimestampWindow(timestamp: number, now: number): void {
  if (timestamp < now - MAX_AGE_SECONDS) {
    throw invalidRequest(
      `Timestamp ${timestamp} is too far in the past: it must be within the past 35 days.`,
      { param: "timestamp", code: "timestamp_too_far_in_past" },
    );
  }
  if (timestamp > now + MAX_AHEAD_SECONDS) {
    throw invalidRequest(
      `Timestamp ${timestamp} is in the future: it must be at most 5 minutes ahead.`,
      { param: "timestamp", code: "timestamp_in_future" },
    );
  }
}

/** A meter event value: a whole number (stripe-facts.md), as a decimal string. */
function parseValue(raw: string | undefined, valueKey: string): number {
  const param = `payload[${valueKey}]`;
  if (raw === undefined || raw === "") {
    throw invalidRequest(`Value key ${valueKey} not found in payload.`, {
      param,
      code: "meter_event_invalid_value",
    });
  }
  if (!/^\d+$/.test(raw)) {
    throw invalidRequest(`Invalid value '${raw}' for ${param}: must be a whole number.`, {
      param,
      code: "meter_event_invalid_value",
    });
  }
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) {
    throw invalidRequest(`Value '${raw}' for ${param} has too many digits.`, {
      param,
      code: "meter_event_value_too_many_digits",
    });
  }
  return value;
}

/**
 * A repeated identifier inside the dedup window: 400 with `Stripe-Should-Retry: false`, the
 * documented signal that the event is already there (for a reporter: already delivered).
 */
function checkNotDuplicate(store: Store, clock: Clock, identifier: string): void {
  const seen = store.identifiers.get(identifier);
  if (seen === undefined || clock.now() - seen >= DEDUP_WINDOW_MS) return;
  throw new StripeHttpError(
    400,
    {
      type: "invalid_request_error",
      message: `An event already exists with identifier ${identifier}.`,
      param: "identifier",
    },
    { "Stripe-Should-Retry": "false" },
  );
}
