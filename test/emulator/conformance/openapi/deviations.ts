/**
 * Answers in which the emulator departs from Stripe's document on purpose. Each stays because
 * Meterline's reporter reads it; the conformance check forgives exactly the named departure
 * and holds the rest of the answer to the document.
 */
export interface Deviation {
  method: string;
  /** The document's path template. */
  template: string;
  /** `error.code` values outside the document's enum of api_errors.code. */
  codes: readonly string[];
  /** Why the emulator keeps them. */
  reason: string;
}

export const DELIBERATE_DEVIATIONS: readonly Deviation[] = [
  {
    method: "POST",
    template: "/v1/billing/meter_events",
    codes: [
      "meter_event_invalid_value",
      "meter_event_no_customer_defined",
      "meter_event_value_too_many_digits",
      "timestamp_in_future",
      "timestamp_too_far_in_past",
    ],
    reason:
      "Stripe documents no codes for the synchronous meter event 400s; the emulator reuses its asynchronous error-report codes for them (state/meter-events.ts), and the reporter acts on them: timestamp_in_future is retried as clock skew and meter_event_no_customer_defined parks the meter (src/reporter/classify.ts), timestamp_too_far_in_past names the systemic halt's scope (test/reporter/blast-radius.test.ts).",
  },
];

/**
 * The body with a deliberate departure taken out (so the document can judge the rest), and the
 * departure it was; the body itself when there is none.
 */
export function forgive(
  method: string,
  template: string | null,
  body: unknown,
): { body: unknown; forgiven: Deviation | null } {
  if (!isRecord(body) || !isRecord(body.error)) return { body, forgiven: null };
  const { code, ...rest } = body.error;
  const deviation = DELIBERATE_DEVIATIONS.find(
    (d) =>
      d.method === method &&
      d.template === template &&
      typeof code === "string" &&
      d.codes.includes(code),
  );
  if (!deviation) return { body, forgiven: null };
  return { body: { ...body, error: rest }, forgiven: deviation };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
