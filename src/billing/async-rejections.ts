import type Stripe from "stripe";

/** One event Stripe named as rejected after it had answered 200. */
export interface AsyncRejection {
  /** The identifier we sent: Meterline's event id (see reporter/identifier.ts). */
  identifier: string;
  /** Stripe's error code, e.g. meter_event_customer_not_found. */
  code: string;
  message: string;
}

/** What one asynchronous error report tells us. */
export interface AsyncReport {
  /** The rejected events Stripe named: samples, not a full list. */
  named: AsyncRejection[];
  /** Rejections Stripe counted but did not name: only a reconciliation can find them. */
  unnamed: number;
}

type ReportEvent =
  | Stripe.Events.V1BillingMeterErrorReportTriggeredEvent
  | Stripe.Events.V1BillingMeterNoMeterFoundEvent;

/** The event types that carry asynchronous rejections of meter events. */
export const ASYNC_REPORT_TYPES = new Set<string>([
  "v1.billing.meter.error_report_triggered",
  "v1.billing.meter.no_meter_found",
]);

/**
 * Reads an error report: Stripe groups failures by code and names a few sample identifiers per
 * code. Pure, so the rule "samples are samples" is tested without a server.
 */
export function readAsyncReport(event: ReportEvent): AsyncReport {
  const reason = event.data.reason;
  const named: AsyncRejection[] = [];
  let unnamed = 0;
  for (const type of reason.error_types) {
    for (const sample of type.sample_errors) {
      named.push({
        identifier: sample.request.identifier,
        code: type.code,
        message: sample.error_message,
      });
    }
    unnamed += Math.max(0, type.error_count - type.sample_errors.length);
  }
  return { named, unnamed };
}
