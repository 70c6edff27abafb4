import type Stripe from "stripe";
import { withoutCallSiteStack } from "../stripe-client.ts";
import { describeStripeError } from "./describe-stripe-error.ts";
import type { OutboundEvent, SendResult, UsageSink } from "./port.ts";

/**
 * The v1 meter events adapter: one POST /v1/billing/meter_events per event, with the event's
 * own time and its stable identifier. Never throws: every answer becomes a SendResult.
 */
export function fromMeterEvents(stripe: Stripe): UsageSink {
  return {
    mode: "meter_events",
    dedup: "identifier",
    async send(event: OutboundEvent): Promise<SendResult> {
      try {
        const res = await withoutCallSiteStack(() =>
          stripe.billing.meterEvents.create({
            event_name: event.eventName,
            // Stripe wants string payload values; the key names are the meter's.
            payload: {
              [event.customerPayloadKey]: event.stripeCustomerId,
              [event.valuePayloadKey]: String(event.value),
            },
            identifier: event.identifier,
            // When it happened, never when it is sent: a retry a day later bills the right period.
            timestamp: Math.floor(event.occurredAt.getTime() / 1000),
          }),
        );
        return {
          kind: "ok",
          status: res.lastResponse.statusCode,
          requestId: res.lastResponse.requestId ?? null,
        };
      } catch (err) {
        return describeStripeError(err);
      }
    },
  };
}
