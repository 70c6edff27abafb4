import type Stripe from "stripe";
import type { Clock } from "../clock.ts";
import { unixSeconds } from "../clock.ts";
import { invalidRequest, parameterMissing } from "../errors.ts";
import {
  optionalEnum,
  optionalObject,
  type Params,
  rejectUnknown,
  requiredString,
} from "../params.ts";
import type { Store } from "./store.ts";

/** An event can be cancelled for 24 hours after Stripe received it. */
export const ADJUSTMENT_WINDOW_SECONDS = 24 * 60 * 60;

/**
 * Cancel one meter event by identifier. Stripe processes adjustments asynchronously; the
 * emulator applies them at once and answers `status: "complete"` (fixtures3.json's example).
 * An unknown identifier, another event_name, or an event received more than 24 h ago is a
 * 400 at once (*unverified*: Stripe may accept and drop these later).
 */
export function createAdjustment(
  store: Store,
  clock: Clock,
  livemode: boolean,
  params: Params,
  began: () => void,
): Stripe.Billing.MeterEventAdjustment {
  rejectUnknown(params, ["event_name", "type", "cancel", "expand"]);
  const eventName = requiredString(params, "event_name", { maxLength: 100 });
  const type = optionalEnum(params, "type", ["cancel"] as const) ?? "cancel";
  const cancel = optionalObject(params, "cancel");
  if (cancel === undefined) throw parameterMissing("cancel");
  rejectUnknown(cancel, ["identifier"], "cancel");
  const identifier = requiredString(cancel, "identifier", {
    maxLength: 100,
    param: "cancel[identifier]",
  });
  began();

  const event = store.ledger.find(identifier);
  if (event === null || event.event_name !== eventName) {
    throw invalidRequest(
      `No meter event with identifier ${identifier} and event_name ${eventName} was found.`,
      { param: "cancel[identifier]" },
    );
  }
  if (unixSeconds(clock) - event.created >= ADJUSTMENT_WINDOW_SECONDS) {
    throw invalidRequest(
      `The meter event with identifier ${identifier} was received more than 24 hours ago and can no longer be cancelled.`,
      { param: "cancel[identifier]" },
    );
  }
  if (store.ledger.cancel(identifier)) store.changed({ k: "cancel", identifier });
  return {
    object: "billing.meter_event_adjustment",
    cancel: { identifier },
    event_name: eventName,
    livemode,
    status: "complete",
    type,
  };
}
