import type Stripe from "stripe";
import type { Clock } from "../clock.ts";
import { unixSeconds } from "../clock.ts";
import { invalidRequest, resourceMissing } from "../errors.ts";
import { newSubscriptionId, newSubscriptionItemId } from "../ids.ts";
import { isLiveCustomer } from "./customers.ts";
import { findPrice, type Interval, planObject, priceObject } from "./prices.ts";
import type { Store } from "./store.ts";
import { subscriptionObject } from "./subscription-object.ts";

/** A subscription item as the emulator keeps it (plain, persistable). */
export interface ItemRecord {
  id: string;
  price: string;
  quantity: number;
  created: number;
  metadata: Record<string, string>;
  /** Start of the current billing period (Unix seconds); basil puts it on items. */
  current_period_start: number;
  /** End of the current billing period (exclusive). */
  current_period_end: number;
}

/** A subscription as the emulator keeps it. */
export interface SubscriptionRecord {
  id: string;
  customer: string;
  created: number;
  livemode: boolean;
  metadata: Record<string, string>;
  status: "active" | "canceled";
  canceled_at: number | null;
  items: ItemRecord[];
}

/** What one `items[n]` of a create request asks for. */
export interface ItemInput {
  price: string;
  quantity?: number;
  metadata?: Record<string, string>;
}

/** `start` plus `count` intervals, in UTC calendar arithmetic (a month is a calendar month). */
export function addInterval(start: number, interval: Interval, count: number): number {
  const d = new Date(start * 1000);
  if (interval === "day") d.setUTCDate(d.getUTCDate() + count);
  else if (interval === "week") d.setUTCDate(d.getUTCDate() + 7 * count);
  else if (interval === "month") d.setUTCMonth(d.getUTCMonth() + count);
  else d.setUTCFullYear(d.getUTCFullYear() + count);
  return Math.floor(d.getTime() / 1000);
}

/**
 * Move every item's period forward until it holds `now`: periods renew as the emulator clock
 * passes their end (no invoices are made). A canceled subscription's periods stay put.
 */
export function rollPeriods(store: Store, record: SubscriptionRecord, now: number): void {
  if (record.status !== "active") return;
  for (const item of record.items) {
    const recurring = findPrice(store, item.price).recurring;
    if (!recurring) continue;
    while (now >= item.current_period_end) {
      item.current_period_start = item.current_period_end;
      item.current_period_end = addInterval(
        item.current_period_start,
        recurring.interval,
        recurring.interval_count,
      );
    }
  }
}

/**
 * Create an active subscription for a live customer with recurring prices. Every period
 * starts now (billing_cycle_anchor = now); no payment is collected.
 */
export function createSubscription(
  store: Store,
  clock: Clock,
  livemode: boolean,
  input: { customer: string; items: ItemInput[]; metadata?: Record<string, string> },
): Stripe.Subscription {
  if (!isLiveCustomer(store, input.customer)) {
    throw resourceMissing("customer", input.customer, "customer");
  }
  if (input.items.length === 0) {
    throw invalidRequest("Missing required param: items.", {
      param: "items",
      code: "parameter_missing",
    });
  }
  const now = unixSeconds(clock);
  const id = newSubscriptionId();
  const items = input.items.map((item, i): ItemRecord => {
    const price = findPrice(store, item.price, `items[${i}][price]`);
    if (!price.recurring) {
      throw invalidRequest(
        `The price specified is set to \`type=one_time\` but this field only accepts prices with \`type=recurring\`.`,
        { param: `items[${i}][price]` },
      );
    }
    return {
      id: newSubscriptionItemId(),
      price: price.id,
      quantity: item.quantity ?? 1,
      created: now,
      metadata: { ...item.metadata },
      current_period_start: now,
      current_period_end: addInterval(
        now,
        price.recurring.interval,
        price.recurring.interval_count,
      ),
    };
  });
  const record: SubscriptionRecord = {
    id,
    customer: input.customer,
    created: now,
    livemode,
    metadata: { ...input.metadata },
    status: "active",
    canceled_at: null,
    items,
  };
  store.subscriptions.set(id, record);
  for (const item of items) store.itemIndex.set(item.id, id);
  store.changed({ k: "subscription", id, v: record });
  return subscriptionObject(store, record);
}

/** The subscription with this id (periods brought up to now), or Stripe's 404. */
export function findSubscription(store: Store, clock: Clock, id: string): SubscriptionRecord {
  const record = store.subscriptions.get(id);
  if (!record) throw resourceMissing("subscription", id);
  rollPeriods(store, record, unixSeconds(clock));
  return record;
}

/** Cancel at once: status `canceled`, periods frozen. */
export function cancelSubscription(store: Store, clock: Clock, id: string): Stripe.Subscription {
  const record = findSubscription(store, clock, id);
  if (record.status === "canceled") {
    throw invalidRequest(
      `A canceled subscription can only update its cancellation_details and metadata.`,
    );
  }
  record.status = "canceled";
  record.canceled_at = unixSeconds(clock);
  store.changed({ k: "subscription", id, v: record });
  return subscriptionObject(store, record);
}

/** The item with this id and its subscription (periods up to now), or Stripe's 404. */
export function findItem(
  store: Store,
  clock: Clock,
  id: string,
  param = "id",
): { item: ItemRecord; subscription: SubscriptionRecord } {
  const subscriptionId = store.itemIndex.get(id);
  const subscription = subscriptionId ? store.subscriptions.get(subscriptionId) : undefined;
  const item = subscription?.items.find((i) => i.id === id);
  if (!subscription || !item) throw resourceMissing("subscription item", id, param);
  rollPeriods(store, subscription, unixSeconds(clock));
  return { item, subscription };
}

/** An item record as Stripe's `subscription_item` (fixtures3.json's shape). */
export function itemObject(
  store: Store,
  record: SubscriptionRecord,
  item: ItemRecord,
): Stripe.SubscriptionItem {
  const price = findPrice(store, item.price);
  return {
    id: item.id,
    object: "subscription_item",
    billing_thresholds: null,
    created: item.created,
    current_period_end: item.current_period_end,
    current_period_start: item.current_period_start,
    current_trial: null,
    discounts: [],
    metadata: { ...item.metadata },
    plan: planObject(price),
    price: priceObject(price),
    quantity: item.quantity,
    subscription: record.id,
    tax_rates: [],
  };
}
