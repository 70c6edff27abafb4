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
