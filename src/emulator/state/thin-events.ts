import type Stripe from "stripe";
import { isoTime } from "../clock.ts";
import { randomToken } from "../ids.ts";
import type { AsyncError, AsyncErrorCode } from "./async-errors.ts";
import type { Store } from "./store.ts";

/** At most this many sample errors per code: Stripe's samples are samples, not a full list. */
export const MAX_SAMPLES_PER_CODE = 5;

/** The full `v1.billing.meter.error_report_triggered` event, as GET /v2/core/events/{id} returns it. */
export type ErrorReportEvent = Omit<
  Stripe.Events.V1BillingMeterErrorReportTriggeredEvent,
  "fetchRelatedObject"
>;
/** The full `v1.billing.meter.no_meter_found` event. */
export type NoMeterFoundEvent = Stripe.Events.V1BillingMeterNoMeterFoundEvent;
/** A v2 core event the emulator emitted. */
export type ThinEventRecord = ErrorReportEvent | NoMeterFoundEvent;

/**
 * The thin notification POSTed to event destinations: the event without `data`. The receiver
 * verifies it with `stripe.parseEventNotification` and, for the details, calls `fetchEvent()`
 * (GET /v2/core/events/{id}) — which is why the emulator keeps the full events.
 */
export interface ThinEventPayload {
  /** evt_… */
  id: string;
  /** Always "v2.core.event". */
  object: "v2.core.event";
  /** The event type. */
  type: ThinEventRecord["type"];
  /** RFC 3339 creation time. */
  created: string;
  /** Live or test mode. */
  livemode: boolean;
  /** The meter, for error reports; absent for no_meter_found. */
  related_object?: Stripe.V2.Core.Events.RelatedObject;
}

type Reason = Stripe.Events.V1BillingMeterErrorReportTriggeredEvent.Data.Reason;

/** Group failures by code, counting all and keeping the first samples of each. */
function reasonOf(errors: readonly AsyncError[]): Reason {
  const byCode = new Map<AsyncErrorCode, AsyncError[]>();
  for (const e of errors) byCode.set(e.code, [...(byCode.get(e.code) ?? []), e]);
  return {
    error_count: errors.length,
    error_types: [...byCode].map(([code, list]) => ({
      code,
      error_count: list.length,
      sample_errors: list.slice(0, MAX_SAMPLES_PER_CODE).map((e) => ({
        error_message: e.message,
        request: { identifier: e.identifier },
      })),
    })),
  };
}

/**
 * Turn the waiting failures into events: one error report per meter, one no_meter_found for
 * the events without a meter. The events are stored (for GET /v2/core/events/{id}) and
 * returned for delivery. `validation_start` is when the window's first failure happened,
 * `validation_end` the report time (*unverified*: Stripe's windows are not documented).
 */
export function buildErrorReports(store: Store, nowMs: number): ThinEventRecord[] {
  const { errors, windowStartMs } = store.asyncErrors.drain();
  if (errors.length === 0) return [];
  const validation_start = isoTime(windowStartMs ?? nowMs);
  const validation_end = isoTime(nowMs);
  const byMeter = new Map<string | null, AsyncError[]>();
  for (const e of errors) byMeter.set(e.meter, [...(byMeter.get(e.meter) ?? []), e]);
  const out: ThinEventRecord[] = [];
  for (const [meter, list] of byMeter) {
    const live = list.some((e) => e.live);
    const reason = reasonOf(list);
    const base = {
      id: `evt_${live ? "" : "test_"}${randomToken(24)}`,
      object: "v2.core.event" as const,
      created: isoTime(nowMs),
      livemode: live,
    };
    const data = {
      developer_message_summary: `${reason.error_count} meter event(s) failed validation`,
      reason,
      validation_start,
      validation_end,
    };
    const event: ThinEventRecord =
      meter === null
        ? { ...base, type: "v1.billing.meter.no_meter_found", data }
        : {
            ...base,
            type: "v1.billing.meter.error_report_triggered",
            data,
            related_object: {
              id: meter,
              type: "billing.meter",
              url: `/v1/billing/meters/${meter}`,
            },
          };
    store.events.set(event.id, event);
    out.push(event);
  }
  return out;
}

/** The thin form of an event, as destinations receive it. */
export function thinPayload(event: ThinEventRecord): ThinEventPayload {
  const { id, object, type, created, livemode } = event;
  if (event.type === "v1.billing.meter.error_report_triggered") {
    return { id, object, type, created, livemode, related_object: event.related_object };
  }
  return { id, object, type, created, livemode };
}
