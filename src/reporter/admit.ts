import type { Config } from "../config.ts";
import type { Db } from "../db/connect.ts";
import type { DeliveryMode } from "../db/schema/meters.ts";
import type { ClaimedEvent } from "../outbox/claim.ts";
import type { SettleRow } from "../outbox/settle.ts";
import { loadLookups } from "./lookups.ts";
import { preflight } from "./preflight.ts";
import { rowFromPreflight } from "./settle-rows.ts";
import type { OutboundEvent, UsageSink } from "./sinks/port.ts";

/** An event cleared to send: what, through which sink, serialised under which key. */
export interface SendItem {
  /** (customer, meter): at most one request in flight per key. */
  key: string;
  event: ClaimedEvent;
  outbound: OutboundEvent;
  sink: UsageSink;
}

/** A claimed batch after pre-flight: what to send, and what to settle without a call. */
export interface Admitted {
  send: SendItem[];
  settle: SettleRow[];
  /** Events pre-flight dead-lettered, for the log. */
  failed: Array<{ id: string; code: string }>;
}

/**
 * Pre-flights a claimed batch, with its customers and meters loaded in one query each.
 * `now` is the database's clock.
 */
export async function admit(
  db: Db,
  events: ClaimedEvent[],
  now: Date,
  settings: Config["worker"],
  sinkFor: (mode: DeliveryMode) => UsageSink | undefined,
): Promise<Admitted> {
  const { customers, meters } = await loadLookups(db, events);
  const out: Admitted = { send: [], settle: [], failed: [] };
  for (const event of events) {
    const meter = meters.get(event.eventName);
    const verdict = preflight(event, customers.get(event.customerKey), meter, now, settings);
    if (verdict.kind !== "send") {
      if (verdict.kind === "fail") out.failed.push({ id: event.id, code: verdict.code });
      out.settle.push(rowFromPreflight(event, verdict, now));
      continue;
    }
    const sink = meter ? sinkFor(meter.deliveryMode) : undefined;
    if (!meter || !sink) {
      // Meter scope, like an inactive meter: wait for a worker that has the adapter.
      const message = `meter "${event.eventName}" uses delivery mode ${meter?.deliveryMode}, which this worker cannot send. The event waits, nothing is lost: run a worker configured for that mode.`;
      const until = new Date(now.getTime() + settings.backoffMaxMs);
      const wait = { kind: "wait", reason: "delivery_mode_unavailable", until, message } as const;
      out.settle.push(rowFromPreflight(event, wait, now));
      continue;
    }
    // One in flight per (customer, meter): Stripe's rule, and it keeps their order.
    const key = `${event.customerKey}\u0000${event.eventName}`;
    out.send.push({ key, event, outbound: verdict.outbound, sink });
  }
  return out;
}
