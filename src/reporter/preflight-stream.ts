import { STRIPE_IDENTIFIER_MAX } from "./identifier.ts";
import type { Preflight } from "./preflight.ts";
import type { OutboundEvent } from "./sinks/port.ts";

/**
 * The meter_stream part of pre-flight. The stream checks a request as a whole: one identifier
 * over Stripe's 100 characters makes it refuse the whole batch of up to 100 events. v1 refuses
 * such an event alone (event scope, as a poison pill should be), so for the stream it is
 * failed here, before it can take healthy events down with it. Pure.
 */
export function preflightStreamEvent(outbound: OutboundEvent): Preflight {
  if (outbound.identifier.length <= STRIPE_IDENTIFIER_MAX) return { kind: "send", outbound };
  return {
    kind: "fail",
    code: "identifier_too_long",
    message:
      `the event id is ${outbound.identifier.length} characters long, and Stripe's identifier ` +
      `(the event id itself) allows at most ${STRIPE_IDENTIFIER_MAX}: Stripe would refuse the ` +
      "whole stream request. The producer wrote it past Meterline's ingest checks: send it " +
      "again with an id of at most 100 characters, then discard this one.",
  };
}
