import type { Config } from "../config.ts";
import type { Db } from "../db/connect.ts";
import type { DeliveryMode } from "../db/schema/meters.ts";
import type { ClaimedEvent } from "../outbox/claim.ts";
import { type Admitted, admit } from "./admit.ts";
import type { Preflight } from "./preflight.ts";
import { preflightStreamEvent } from "./preflight-stream.ts";
import { preflightSubscriptionItem } from "./preflight-subscription-item.ts";
import { rowFromPreflight } from "./settle-rows.ts";
import type { UsageSink } from "./sinks/port.ts";
import { itemKey, loadSubscriptionItems } from "./subscription-item-lookup.ts";

/**
 * admit(), then the delivery mode's own pre-flight: events cleared for a usage_records sink get
 * their customer × meter's subscription item (one query for the batch) or wait for one; events
 * for the stream must fit its request-level checks.
 */
export async function admitByMode(
  db: Db,
  events: ClaimedEvent[],
  now: Date,
  settings: Config["worker"],
  sinkFor: (mode: DeliveryMode) => UsageSink | undefined,
): Promise<Admitted> {
  const admitted = await admit(db, events, now, settings, sinkFor);
  const needItem = admitted.send.filter((i) => i.sink.mode === "usage_records");
  const items = await loadSubscriptionItems(
    db,
    needItem.map((i) => i.event),
  );
  const send: Admitted["send"] = [];
  for (const item of admitted.send) {
    let verdict: Preflight;
    if (item.sink.mode === "usage_records") {
      const id = items.get(itemKey(item.event.customerKey, item.event.eventName));
      verdict = preflightSubscriptionItem(item.event, item.outbound, id, now, settings);
    } else if (item.sink.mode === "meter_stream") {
      verdict = preflightStreamEvent(item.outbound);
    } else {
      send.push(item);
      continue;
    }
    if (verdict.kind === "send") {
      send.push({ ...item, outbound: verdict.outbound });
      continue;
    }
    if (verdict.kind === "fail") admitted.failed.push({ id: item.event.id, code: verdict.code });
    admitted.settle.push(rowFromPreflight(item.event, verdict, now));
  }
  return { ...admitted, send };
}
