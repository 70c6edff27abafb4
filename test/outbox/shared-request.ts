import type { Db } from "../../src/db/connect.ts";
import { asyncRejections } from "../../src/db/schema/index.ts";
import type { ClaimedEvent } from "../../src/outbox/claim.ts";
import type { SettleRow } from "../../src/outbox/settle.ts";
import { delivered } from "../reporter/fixtures.ts";
import { insertEvents } from "../reporter/seed.ts";

/** Pending events of one customer and meter, due a minute ago. */
export function insertDueEvents(db: Db, ids: readonly string[]): Promise<void> {
  return insertEvents(
    db,
    ids.map((id) => ({
      id,
      customerKey: "acme",
      eventName: "api_calls",
      value: 1,
      occurredAt: new Date(),
      nextAttemptAt: new Date(Date.now() - 60_000),
    })),
  );
}

/** One request's deliveries: the same answer and start for every event, as the worker writes. */
export function oneRequest(events: readonly ClaimedEvent[], requestId = "req_shared"): SettleRow[] {
  const startedAt = new Date(Date.now() - 500);
  return events.map((e) => {
    const d = delivered(e);
    return {
      ...d,
      stripeRequestId: requestId,
      sentAt: startedAt,
      attempt: d.attempt && { ...d.attempt, requestId, startedAt },
    };
  });
}

/** Stripe's asynchronous rejection of each identifier, recorded as billing sync records it. */
export async function recordRejections(db: Db, ids: readonly string[]): Promise<void> {
  await db.insert(asyncRejections).values(
    ids.map((identifier) => ({
      identifier,
      code: "meter_event_customer_not_found",
      message: "No customer",
      stripeEventId: `evt_${identifier}`,
    })),
  );
}
