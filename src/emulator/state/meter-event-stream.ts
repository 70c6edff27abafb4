import type { Clock } from "../clock.ts";
import { unixSeconds } from "../clock.ts";
import { invalidFields } from "../errors-v2.ts";
import { newEventIdentifier } from "../ids.ts";
import { isRecord } from "../params.ts";
import { type AsyncErrorCode, asyncErrorMessage } from "./async-errors.ts";
import {
  DEDUP_WINDOW_MS,
  MAX_AGE_SECONDS,
  MAX_AHEAD_SECONDS,
  MAX_NAME_LENGTH,
  recordAccepted,
  routingFailure,
} from "./meter-events.ts";
import { DEFAULT_CUSTOMER_KEY, DEFAULT_VALUE_KEY, meterForEvent } from "./meters.ts";
import type { Store } from "./store.ts";

/** Most events one stream request may carry. */
export const MAX_STREAM_EVENTS = 100;

/** One stream event after the request-level shape check. */
export interface StreamEvent {
  /** The meter event name. */
  event_name: string;
  /** String payload. */
  payload: Record<string, string>;
  /** Optional identifier (≤ 100 characters). */
  identifier?: string;
  /** Optional RFC 3339 time. */
  timestamp?: string;
}

/**
 * The request-level check of the stream, the only one Stripe makes at once: a JSON body with
 * 1..100 events, each with a string event_name, a string-valued payload and, when given, a
 * string identifier and an RFC 3339 timestamp. Everything else is asynchronous.
 */
export function parseStreamBody(body: unknown): StreamEvent[] {
  if (!isRecord(body)) throw invalidFields("events", "the body must be a JSON object");
  for (const key of Object.keys(body)) {
    if (key !== "events") throw invalidFields(key, "unknown field");
  }
  const events = body.events;
  if (!Array.isArray(events) || events.length === 0) {
    throw invalidFields("events", "must be a non-empty array");
  }
  if (events.length > MAX_STREAM_EVENTS) {
    throw invalidFields("events", `at most ${MAX_STREAM_EVENTS} events per request`);
  }
  return events.map((raw, i) => parseEvent(raw, `events[${i}]`));
}

function parseEvent(raw: unknown, at: string): StreamEvent {
  if (!isRecord(raw)) throw invalidFields(at, "must be an object");
  const { event_name, payload, identifier, timestamp } = raw;
  if (typeof event_name !== "string" || event_name === "" || event_name.length > MAX_NAME_LENGTH) {
    throw invalidFields(
      `${at}.event_name`,
      `must be a string of 1 to ${MAX_NAME_LENGTH} characters`,
    );
  }
  if (!isRecord(payload) || !Object.values(payload).every((v) => typeof v === "string")) {
    throw invalidFields(`${at}.payload`, "must be an object of string values");
  }
  if (
    identifier !== undefined &&
    (typeof identifier !== "string" || identifier.length > MAX_NAME_LENGTH)
  ) {
    throw invalidFields(
      `${at}.identifier`,
      `must be a string of at most ${MAX_NAME_LENGTH} characters`,
    );
  }
  if (
    timestamp !== undefined &&
    (typeof timestamp !== "string" || Number.isNaN(Date.parse(timestamp)))
  ) {
    throw invalidFields(`${at}.timestamp`, "must be an RFC 3339 date-time");
  }
  return {
    event_name,
    payload: payload as Record<string, string>,
    ...(identifier === undefined ? {} : { identifier }),
    ...(timestamp === undefined ? {} : { timestamp }),
  };
}

/**
 * Validate and apply stream events after the 202-style `{}` answer: every rule v1 checks at
 * once (customer key, whole-number value, the timestamp window, a repeated identifier) is
 * checked here, plus the meter and the customer. Each event lands in the ledger, counted or
 * with its reason; failures wait for the next error report. A repeated identifier is dropped
 * silently (reason `duplicate_identifier`, not a reported code: *unverified*).
 */
export function applyStreamEvents(
  store: Store,
  clock: Clock,
  live: boolean,
  events: readonly StreamEvent[],
): void {
  const now = unixSeconds(clock);
  for (const event of events) {
    const meter = meterForEvent(store, event.event_name);
    const customerKey = meter?.customer_mapping.event_payload_key ?? DEFAULT_CUSTOMER_KEY;
    const valueKey = meter?.value_settings.event_payload_key ?? DEFAULT_VALUE_KEY;
    const customer = event.payload[customerKey] || null;
    const rawValue = event.payload[valueKey] ?? "";
    const value = /^\d+$/.test(rawValue) ? Number(rawValue) : 0;
    const timestamp =
      event.timestamp === undefined ? now : Math.floor(Date.parse(event.timestamp) / 1000);
    const identifier = event.identifier ?? newEventIdentifier();

    let failure: { code: AsyncErrorCode | "duplicate_identifier"; message: string } | null = null;
    const fail = (code: AsyncErrorCode, detail: string) => {
      failure = { code, message: asyncErrorMessage(code, detail) };
    };
    const seen = store.identifiers.get(identifier);
    if (seen !== undefined && clock.now() - seen < DEDUP_WINDOW_MS) {
      failure = { code: "duplicate_identifier", message: "" };
    } else if (timestamp < now - MAX_AGE_SECONDS) fail("timestamp_too_far_in_past", `${timestamp}`);
    else if (timestamp > now + MAX_AHEAD_SECONDS) fail("timestamp_in_future", `${timestamp}`);
    else if (customer === null) fail("meter_event_no_customer_defined", customerKey);
    else if (!/^\d+$/.test(rawValue)) fail("meter_event_invalid_value", `'${rawValue}'`);
    else if (!Number.isSafeInteger(value)) fail("meter_event_value_too_many_digits", rawValue);
    else failure = routingFailure(store, meter, event.event_name, customer);
    // A duplicate does not take the identifier again (the first event keeps its window).
    if (seen === undefined || clock.now() - seen >= DEDUP_WINDOW_MS) {
      const at = clock.now();
      store.identifiers.set(identifier, at);
      store.changed({ k: "identifier", id: identifier, at });
    }
    const settled: { code: string; message: string } | null = failure;
    recordAccepted(
      store,
      clock,
      live,
      {
        identifier,
        event_name: event.event_name,
        customer,
        value,
        timestamp,
        created: now,
        counted: settled === null,
        reason: settled?.code ?? null,
        meter: meter?.id ?? null,
      },
      settled?.message ?? "",
    );
  }
}
