import type Stripe from "stripe";
import { describeStripeError } from "./sinks/describe-stripe-error.ts";
import type { SendResult } from "./sinks/port.ts";

/** A harmless authenticated call that says whether the account's key works again. */
export type AccountProbe = () => Promise<SendResult>;

/**
 * Probes the account with `GET /v1/billing/meters?limit=1`: authenticated, read-only, cheap,
 * and it needs the billing permission a restricted key must have to send meter events. It
 * lets a halted worker resume with an empty queue, instead of waiting for an event to probe with.
 */
export function fromMetersList(stripe: Stripe): AccountProbe {
  return async () => {
    try {
      const res = await stripe.billing.meters.list({ limit: 1 });
      return {
        kind: "ok",
        status: res.lastResponse.statusCode,
        requestId: res.lastResponse.requestId ?? null,
      };
    } catch (err) {
      return describeStripeError(err);
    }
  };
}
