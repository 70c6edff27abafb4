import type Stripe from "stripe";

/** An API version from before 2025-03-31.basil, where legacy usage records still exist. */
export const PRE_BASIL = "2024-09-30.acacia";

/** A customer subscribed to a monthly metered price (lookup key "api_requests"). */
export async function meteredItem(stripe: Stripe): Promise<Stripe.SubscriptionItem> {
  const customer = await stripe.customers.create({ name: "Acme" });
  const price = await stripe.prices.create({
    currency: "usd",
    unit_amount: 2,
    product_data: { name: "API requests" },
    recurring: { interval: "month", usage_type: "metered" },
    lookup_key: "api_requests",
  });
  const subscription: Stripe.Subscription = await stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
  });
  const item = subscription.items.data[0];
  if (!item) throw new Error("no item");
  return item;
}

/** A legacy usage record as the API returned it (stripe-node 23 has no type for it). */
export interface UsageRecordWire {
  id: string;
  object: "usage_record";
  livemode: boolean;
  quantity: number;
  subscription_item: string;
  timestamp: number;
}

/** POST a usage record through rawRequest, pinned to `apiVersion` (pre-basil by default). */
export function usageRecord(
  stripe: Stripe,
  item: string,
  params: Record<string, unknown>,
  options: { apiVersion?: string; idempotencyKey?: string } = { apiVersion: PRE_BASIL },
): Promise<UsageRecordWire> {
  return stripe.rawRequest(
    "POST",
    `/v1/subscription_items/${item}/usage_records`,
    params,
    options,
  ) as Promise<Stripe.Response<UsageRecordWire>>;
}

/** A usage record summary as the API returned it before basil. */
export interface UsageRecordSummaryWire {
  id: string;
  object: "usage_record_summary";
  invoice: string | null;
  livemode: boolean;
  period: { start: number | null; end: number | null };
  subscription_item: string;
  total_usage: number;
}

/**
 * GET an item's usage record summaries through rawRequest, pinned like `usageRecord`. List
 * parameters go in the query string: stripe-node's rawRequest takes params on POST only.
 */
export function usageRecordSummaries(
  stripe: Stripe,
  item: string,
  query: Record<string, string | number> = {},
  options: { apiVersion?: string } = { apiVersion: PRE_BASIL },
): Promise<Stripe.ApiList<UsageRecordSummaryWire>> {
  const search = new URLSearchParams(
    Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]),
  ).toString();
  const path = `/v1/subscription_items/${item}/usage_record_summaries`;
  return stripe.rawRequest("GET", search ? `${path}?${search}` : path, {}, options) as Promise<
    Stripe.Response<Stripe.ApiList<UsageRecordSummaryWire>>
  >;
}
