import type Stripe from "stripe";

/** The codes of Stripe's asynchronous meter event errors (error_report_triggered). */
export type AsyncErrorCode =
  Stripe.Events.V1BillingMeterErrorReportTriggeredEvent.Data.Reason.ErrorType.Code;

/** One meter event that failed asynchronous validation. */
export interface AsyncError {
  /** Stripe's error code. */
  code: AsyncErrorCode;
  /** Human-readable message, as a sample error carries it. */
  message: string;
  /** The event's identifier (given or generated). */
  identifier: string;
  /** The meter the event belonged to; null when no meter has its event_name (`no_meter`). */
  meter: string | null;
  /** When it failed, emulator clock ms. */
  atMs: number;
  /** Whether the event was sent in live mode (the report's `livemode`). */
  live: boolean;
}

/**
 * Failures waiting for the next error report. Stripe batches them per meter into
 * `v1.billing.meter.error_report_triggered` (and `v1.billing.meter.no_meter_found` for events
 * without a meter); `drain` hands the batch to the reporter and starts a new window.
 */
export class AsyncErrorLog {
  private errors: AsyncError[] = [];
  private windowStartMs: number | null = null;

  /** Note one failure. */
  add(error: AsyncError): void {
    this.windowStartMs ??= error.atMs;
    this.errors.push({ ...error });
  }

  /** How many failures wait for a report. */
  pending(): number {
    return this.errors.length;
  }

  /** Take every waiting failure and the time the window opened; the log starts empty again. */
  drain(): { errors: AsyncError[]; windowStartMs: number | null } {
    const out = { errors: this.errors, windowStartMs: this.windowStartMs };
    this.errors = [];
    this.windowStartMs = null;
    return out;
  }
}

/** The sentence a sample error carries for each code (*unverified* wording). */
export function asyncErrorMessage(code: AsyncErrorCode, detail: string): string {
  switch (code) {
    case "archived_meter":
      return `The meter for event_name ${detail} is inactive.`;
    case "meter_event_customer_not_found":
      return `No such customer: '${detail}'.`;
    case "meter_event_no_customer_defined":
      return `The payload has no customer: key ${detail} is missing.`;
    case "meter_event_invalid_value":
      return `The payload value is not a whole number: ${detail}.`;
    case "meter_event_value_too_many_digits":
      return `The payload value has too many digits: ${detail}.`;
    case "no_meter":
      return `No active meter was found for event_name ${detail}.`;
    case "timestamp_in_future":
      return `The timestamp ${detail} is more than 5 minutes in the future.`;
    case "timestamp_too_far_in_past":
      return `The timestamp ${detail} is more than 35 days in the past.`;
    default:
      return `Meter event rejected (${code}): ${detail}.`;
  }
}
