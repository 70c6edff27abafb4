import { inArray } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { customers } from "../db/schema/customers.ts";
import { meters } from "../db/schema/meters.ts";
import { usageEvents } from "../db/schema/usage-events.ts";
import { compareWithStored, conflictError, referenceError } from "./event-checks.ts";
import type { EventInput } from "./event-input.ts";

/** What a stored batch came to: newly stored events and no-op repeats. */
export interface StoreResult {
  /** Events stored by this request. */
  accepted: number;
  /** Events already stored with identical content (or repeated within the batch): no-ops. */
  duplicates: number;
}

/**
 * Stores a validated batch all-or-nothing, in one transaction: checks that its customers and
 * meters exist (422), inserts every new event with one statement, then compares the ids that
 * were already stored (409 on different content, which rolls everything back). Returns only
 * after the commit, so "accepted" means durable.
 */
export async function storeEvents(
  db: Db,
  events: readonly EventInput[],
  options: { batch: boolean },
): Promise<StoreResult> {
  return db.transaction(async (tx) => {
    const customerKeys = [...new Set(events.map((e) => e.customer))];
    const eventNames = [...new Set(events.map((e) => e.eventName))];
    const customerRows = await tx
      .select({ key: customers.key, status: customers.status })
      .from(customers)
      .where(inArray(customers.key, customerKeys));
    const meterRows = await tx
      .select({ eventName: meters.eventName })
      .from(meters)
      .where(inArray(meters.eventName, eventNames));
    const problem = referenceError(
      events,
      {
        customers: new Map(customerRows.map((c) => [c.key, c.status])),
        meters: new Set(meterRows.map((m) => m.eventName)),
      },
      options.batch,
    );
    if (problem) throw problem;

    // One multi-row statement for the whole batch: a 1,000-event request is one round trip, and
    // the unique id decides atomically which events are new, even against a concurrent request.
    // Rows go in id order, so two batches sharing ids lock them in the same order: no deadlock.
    const inserted = await tx
      .insert(usageEvents)
      .values(
        [...events].sort(byId).map((e) => ({
          id: e.id,
          customerKey: e.customer,
          eventName: e.eventName,
          value: e.value,
          occurredAt: e.occurredAt,
        })),
      )
      .onConflictDoNothing({ target: usageEvents.id })
      .returning({ id: usageEvents.id });
    const insertedIds = new Set(inserted.map((r) => r.id));
    const skipped = events.filter((e) => !insertedIds.has(e.id));
    if (skipped.length === 0) return { accepted: inserted.length, duplicates: 0 };

    const stored = await tx
      .select({
        id: usageEvents.id,
        customerKey: usageEvents.customerKey,
        eventName: usageEvents.eventName,
        value: usageEvents.value,
        occurredAt: usageEvents.occurredAt,
      })
      .from(usageEvents)
      .where(
        inArray(
          usageEvents.id,
          skipped.map((e) => e.id),
        ),
      );
    const { duplicates, conflicts } = compareWithStored(skipped, stored);
    // Throwing rolls back the insert above: a batch with one reused id stores nothing.
    if (conflicts.length > 0) throw conflictError(conflicts);
    return { accepted: inserted.length, duplicates };
  });
}

function byId(a: EventInput, b: EventInput): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
