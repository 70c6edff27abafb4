import type Stripe from "stripe";
import type { LedgerEvent, LedgerUsageRecord } from "../ledger.ts";
import type { PriceRecord } from "./prices.ts";
import type { CustomerEntry, Store } from "./store.ts";
import type { SubscriptionRecord } from "./subscriptions.ts";

/**
 * One change to the durable part of the store, as the state file's journal keeps it (one JSON
 * line each). Objects are written whole (an upsert, the last one wins), so a change never
 * depends on the one before it: replaying a journal over a snapshot that already holds some of
 * its changes ends in the same state (see journal.ts on compaction). Ledger entries are
 * appended; a cancel of an event already cancelled does nothing.
 */
export type StateChange =
  | { k: "customer"; id: string; v: CustomerEntry }
  | { k: "meter"; id: string; v: Stripe.Billing.Meter }
  | { k: "product"; id: string; v: Stripe.Product }
  | { k: "price"; id: string; v: PriceRecord }
  | { k: "subscription"; id: string; v: SubscriptionRecord }
  | { k: "identifier"; id: string; at: number }
  | { k: "event"; v: LedgerEvent }
  | { k: "cancel"; identifier: string }
  | { k: "usage"; v: LedgerUsageRecord };

/** Apply one journaled change to the store (replay at start). */
export function applyChange(store: Store, change: StateChange): void {
  switch (change.k) {
    case "customer":
      store.customers.set(change.id, change.v);
      return;
    case "meter":
      store.meters.set(change.id, change.v);
      return;
    case "product":
      store.products.set(change.id, change.v);
      return;
    case "price":
      store.prices.set(change.id, change.v);
      return;
    case "subscription":
      store.subscriptions.set(change.id, change.v);
      for (const item of change.v.items) store.itemIndex.set(item.id, change.id);
      return;
    case "identifier":
      store.identifiers.set(change.id, change.at);
      return;
    case "event":
      store.ledger.record(change.v);
      return;
    case "cancel":
      store.ledger.cancel(change.identifier);
      return;
    case "usage":
      store.ledger.recordUsage(change.v);
      return;
  }
}
