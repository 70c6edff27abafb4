/** What each delivery mode sends to Stripe, for the notes under the end-to-end table. */
import type { Mode } from "../options.ts";

/** One line per mode: the Stripe API and how many events a request carries. */
export const SINKS: Record<Mode, { describe: string }> = {
  meter_events: { describe: "v1 POST /v1/billing/meter_events, one event per request" },
  meter_stream: {
    describe: "v2 POST /v2/billing/meter_event_stream, up to 100 events per request",
  },
  usage_records: {
    describe: "legacy POST /v1/subscription_items/{id}/usage_records, one per request",
  },
};
