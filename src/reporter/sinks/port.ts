import type { DeliveryMode } from "../../db/schema/meters.ts";

/** One usage event as a sink sends it: everything Stripe needs, already resolved. */
export interface OutboundEvent {
  /** Meterline's (the producer's) event id. */
  id: string;
  /** Stripe's dedup identifier (or Idempotency-Key): a pure function of `id`. */
  identifier: string;
  eventName: string;
  stripeCustomerId: string;
  value: number;
  /** The event's own time: what Stripe is told. */
  occurredAt: Date;
  /** Payload key names of the meter (Stripe lets a meter rename them). */
  customerPayloadKey: string;
  valuePayloadKey: string;
  /** usage_records only: the subscription item (si_…) of this customer × meter. */
  subscriptionItemId?: string;
  /** usage_records only: which Idempotency-Key to send under (usage_events.key_generation). */
  keyGeneration?: number;
}

/**
 * How Stripe deduplicates what a sink sends, which decides what a 5xx means:
 * - "identifier": a field of the event (meter events' `identifier`). Every resend is a new
 *   request that Stripe recognises, so a 5xx is retried as it is.
 * - "idempotency_key": only the Idempotency-Key (legacy usage records). Stripe stores the first
 *   answer under the key, 500s included, and replays it for 24 h: the same key can never tell
 *   whether the record was applied. Stripe's own totals must (sinks verify them).
 */
export type DedupBy = "identifier" | "idempotency_key";

/** Stripe's own total for the billing period that holds an event. */
export interface PeriodTotal {
  start: Date;
  end: Date;
  /** What Stripe counted in the period (usage record summaries' total_usage). */
  total: number;
}

/**
 * What one attempt came back with, as plain data: classify() turns it into an outcome.
 * Sinks never throw for a Stripe answer or a network failure; they describe it.
 */
export type SendResult =
  | { kind: "ok"; status: number; requestId: string | null }
  | {
      kind: "http_error";
      status: number;
      /** Stripe's error.type, e.g. invalid_request_error. */
      type: string | null;
      /** Stripe's error.code, e.g. resource_missing. */
      code: string | null;
      message: string;
      param: string | null;
      /** The Stripe-Should-Retry header, when present. */
      shouldRetry: boolean | null;
      requestId: string | null;
    }
  | { kind: "network"; message: string; timeout: boolean };

/** The port every Stripe usage API is adapted to. */
export interface UsageSink {
  readonly mode: DeliveryMode;
  readonly dedup: DedupBy;
  /**
   * Stripe's own limit on this sink's endpoint, requests per second, when it is below the
   * account's (usage records: 25/s per endpoint in live mode); absent: only the account's.
   * Applied only where the account is limited (reporter/send-limits.ts).
   */
  readonly requestsPerSec?: number;
  /**
   * Idempotency-key sinks: Stripe's total for the period holding the event, to tell whether a
   * stored 5xx was applied; `missing` (Stripe's message) when Stripe has no such subscription
   * item; null when Stripe could not be asked (then retry and ask again).
   */
  periodTotal?(event: OutboundEvent): Promise<PeriodTotal | { missing: string } | null>;
  send(event: OutboundEvent): Promise<SendResult>;
  /**
   * Most events one request may carry; absent or 1: one request per event. A sink with
   * `maxBatch` > 1 implements `sendBatch`.
   */
  readonly maxBatch?: number;
  /**
   * Sends up to `maxBatch` events in ONE request. Stripe answers the request as a whole (the v2
   * stream validates each event later), so there is one result, and it holds for every event.
   */
  sendBatch?(events: OutboundEvent[]): Promise<SendResult>;
}
